"""The inference gateway: ``/serve/{tenant}/{deployment}/invocations``.

It speaks MLflow's scoring protocol, authenticates a tenant's service token with the ``predict``
scope, checks the input against the version's signature, forwards the request over pooled
keep-alive connections to a model server chosen by the endpoint's traffic weights, copies it to
shadow revisions, and records capture and metering without ever waiting for them.
"""
