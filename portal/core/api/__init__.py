"""The API base every app's API builds on: fields, errors, pagination, throttling and schema."""
