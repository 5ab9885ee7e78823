"""Processes that can stand behind a target group: real servers for demos and tests.

- ``echo``: an HTTP/1.1 server answering every request with a JSON picture of
  what it received (``python -m latticework.targets.echo --port P --name N``).
- ``grpc_echo``: a gRPC server echoing messages and metadata
  (``python -m latticework.targets.grpc_echo --port P --name N``; needs ``grpcio``,
  installed with the test extras: ``pip install grpcio``).
"""
