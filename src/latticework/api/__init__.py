"""The AWS wire layer: SigV4, protocol parsing/serialization from botocore models, dispatch."""
