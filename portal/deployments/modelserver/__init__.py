"""Code that runs inside a model server's sandbox: it imports nothing from the portal."""
