# IAM for a VPC Lattice client against a Latticework endpoint: a role its
# callers assume, an inline policy, a customer managed policy attached to it,
# and an AWS managed policy attached too. tests/test_terraform_iam.py applies
# it, re-plans (which must show no changes) and destroys it.

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

variable "name_prefix" {
  description = "Prefix of every resource name"
  type        = string
  default     = "tf-iam"
}

provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    iam = var.endpoint
    sts = var.endpoint
  }
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = ["${var.name_prefix}-external"]
    }
  }
}

resource "aws_iam_role" "client" {
  name                 = "${var.name_prefix}-client"
  path                 = "/lattice/"
  description          = "Calls VPC Lattice services"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 7200
  tags = {
    team = "payments"
  }
}

resource "aws_iam_role_policy" "read" {
  name = "read-lattice"
  role = aws_iam_role.client.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["vpc-lattice:Get*", "vpc-lattice:List*"]
      Resource = "*"
    }]
  })
}

resource "aws_iam_policy" "invoke" {
  name        = "${var.name_prefix}-invoke"
  path        = "/lattice/"
  description = "Invoke the payments service"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "vpc-lattice-svcs:Invoke"
      Resource = "arn:aws:vpc-lattice:us-east-1:${data.aws_caller_identity.current.account_id}:service/*"
    }]
  })
  tags = {
    team = "payments"
  }
}

resource "aws_iam_role_policy_attachment" "invoke" {
  role       = aws_iam_role.client.name
  policy_arn = aws_iam_policy.invoke.arn
}

resource "aws_iam_role_policy_attachment" "read_only" {
  role       = aws_iam_role.client.name
  policy_arn = "arn:aws:iam::aws:policy/VPCLatticeReadOnlyAccess"
}
