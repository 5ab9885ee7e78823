"""AWS services reached through VPC endpoints: gateway endpoints (S3, DynamoDB) and interface endpoints.

- ``operations``: which API operation a request is (botocore's models), its IAM action and resources;
- ``policy``: the endpoint policy's verdict on it, and AWS's denial message;
- ``front``: the HTTPS listeners where the services' names resolve inside a VPC, which judge each request
  and forward it to the service's upstream (``latticework up --aws-upstream``).

docs/aws-services.md is the user's guide.
"""
