# PrivateLink configuration: a provider VPC with a network load balancer offered
# as an endpoint service that requires acceptance, a consumer VPC with an
# Interface endpoint to it (accepted by aws_vpc_endpoint_connection_accepter),
# and an S3 Gateway endpoint with a route table and an endpoint policy.
# tests/test_terraform_endpoints.py applies it, re-plans (no changes
# expected) and destroys it.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" {
  description = "Latticework's API address, e.g. http://127.0.0.1:4599"
  type        = string
}

provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    ec2   = var.endpoint
    elbv2 = var.endpoint
    sts   = var.endpoint
    iam   = var.endpoint
  }
}

# -- provider side ---------------------------------------------------------------

resource "aws_vpc" "provider" {
  cidr_block = "10.10.0.0/16"
}

resource "aws_subnet" "provider_a" {
  vpc_id            = aws_vpc.provider.id
  cidr_block        = "10.10.1.0/24"
  availability_zone = "us-east-1a"
}

resource "aws_subnet" "provider_b" {
  vpc_id            = aws_vpc.provider.id
  cidr_block        = "10.10.2.0/24"
  availability_zone = "us-east-1b"
}

resource "aws_lb" "provider" {
  name               = "tf-endpoints-nlb"
  internal           = true
  load_balancer_type = "network"
  subnets            = [aws_subnet.provider_a.id, aws_subnet.provider_b.id]
}

resource "aws_vpc_endpoint_service" "provider" {
  acceptance_required        = true
  network_load_balancer_arns = [aws_lb.provider.arn]
  allowed_principals         = ["arn:aws:iam::000000000000:root"]
  tags = {
    Name = "tf-endpoints"
  }
}

# -- consumer side -------------------------------------------------------------------

resource "aws_vpc" "consumer" {
  cidr_block           = "10.20.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
}

resource "aws_subnet" "consumer_a" {
  vpc_id            = aws_vpc.consumer.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "us-east-1a"
}

resource "aws_subnet" "consumer_b" {
  vpc_id            = aws_vpc.consumer.id
  cidr_block        = "10.20.2.0/24"
  availability_zone = "us-east-1b"
}

resource "aws_security_group" "endpoint" {
  name   = "tf-endpoints-consumer"
  vpc_id = aws_vpc.consumer.id

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }
}

resource "aws_vpc_endpoint" "interface" {
  vpc_id             = aws_vpc.consumer.id
  service_name       = aws_vpc_endpoint_service.provider.service_name
  vpc_endpoint_type  = "Interface"
  subnet_ids         = [aws_subnet.consumer_a.id, aws_subnet.consumer_b.id]
  security_group_ids = [aws_security_group.endpoint.id]
  tags = {
    Name = "tf-endpoints-interface"
  }
}

resource "aws_vpc_endpoint_connection_accepter" "interface" {
  vpc_endpoint_service_id = aws_vpc_endpoint_service.provider.id
  vpc_endpoint_id         = aws_vpc_endpoint.interface.id
}

resource "aws_route_table" "consumer" {
  vpc_id = aws_vpc.consumer.id
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.consumer.id
  service_name      = "com.amazonaws.us-east-1.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.consumer.id]
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = "*"
      Action    = ["s3:GetObject"]
      Resource  = ["arn:aws:s3:::tf-endpoints-bucket/*"]
    }]
  })
}
