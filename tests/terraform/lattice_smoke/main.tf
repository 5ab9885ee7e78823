# Smoke configuration: every core VPC Lattice resource Terraform's AWS provider
# manages (and the VPC its target groups live in), against a Latticework endpoint. tests/test_terraform.py applies it,
# re-plans (which must show no changes: every field reads back as sent,
# defaults included) and destroys it.

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
  default     = "tf-smoke"
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
    vpclattice = var.endpoint
    sts        = var.endpoint
    ec2        = var.endpoint
    iam        = var.endpoint
  }
}

# Target groups reference a VPC of the account: Lattice checks that it exists.
resource "aws_vpc" "this" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

locals {
  vpc_id = aws_vpc.this.id
}

resource "aws_vpclattice_service_network" "this" {
  name      = "${var.name_prefix}-network"
  auth_type = "AWS_IAM"
  tags = {
    Suite = "terraform-smoke"
  }
}

resource "aws_vpclattice_service" "this" {
  name      = "${var.name_prefix}-service"
  auth_type = "AWS_IAM"
  tags = {
    Suite = "terraform-smoke"
  }
}

resource "aws_vpclattice_target_group" "checked" {
  name = "${var.name_prefix}-checked"
  type = "IP"

  config {
    port           = 8080
    protocol       = "HTTP"
    vpc_identifier = local.vpc_id

    health_check {
      enabled                       = true
      health_check_interval_seconds = 20
      health_check_timeout_seconds  = 10
      healthy_threshold_count       = 3
      unhealthy_threshold_count     = 2
      path                          = "/_latticework/health"
      protocol                      = "HTTP"
      protocol_version              = "HTTP1"

      matcher {
        value = "200-299"
      }
    }
  }
}

# No health_check block: the defaults AWS fills in must not show up as a diff.
# A real target: the API's own health endpoint answers the group's checks with 200, so the data plane
# turns it HEALTHY after its first check (the provider waits for the target to leave INITIAL, and after
# deregistration for it to drain away).
locals {
  api_port = tonumber(regex(":([0-9]+)$", var.endpoint)[0])
}

resource "aws_vpclattice_target_group_attachment" "api" {
  target_group_identifier = aws_vpclattice_target_group.checked.id

  target {
    id   = "127.0.0.1"
    port = local.api_port
  }
}

resource "aws_vpclattice_target_group" "defaults" {
  name = "${var.name_prefix}-defaults"
  type = "IP"

  config {
    port           = 9090
    protocol       = "HTTP"
    vpc_identifier = local.vpc_id
  }
}

resource "aws_vpclattice_listener" "http" {
  name               = "${var.name_prefix}-http"
  protocol           = "HTTP"
  port               = 80
  service_identifier = aws_vpclattice_service.this.id

  default_action {
    forward {
      target_groups {
        target_group_identifier = aws_vpclattice_target_group.checked.id
        weight                  = 100
      }
    }
  }
}

resource "aws_vpclattice_listener_rule" "api" {
  name                = "${var.name_prefix}-api"
  listener_identifier = aws_vpclattice_listener.http.listener_id
  service_identifier  = aws_vpclattice_service.this.id
  priority            = 10

  match {
    http_match {
      path_match {
        case_sensitive = false
        match {
          prefix = "/api"
        }
      }
    }
  }

  action {
    forward {
      target_groups {
        target_group_identifier = aws_vpclattice_target_group.defaults.id
        weight                  = 1
      }
    }
  }
}

resource "aws_vpclattice_service_network_service_association" "this" {
  service_identifier         = aws_vpclattice_service.this.id
  service_network_identifier = aws_vpclattice_service_network.this.id
}

resource "aws_vpclattice_auth_policy" "network" {
  resource_identifier = aws_vpclattice_service_network.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = "*"
      Action    = "vpc-lattice-svcs:Invoke"
      Resource  = "*"
      Condition = {
        StringEquals = { "aws:PrincipalOrgID" = "o-123456example" }
      }
    }]
  })
}

resource "aws_vpclattice_auth_policy" "service" {
  resource_identifier = aws_vpclattice_service.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::000000000000:root" }
      Action    = "vpc-lattice-svcs:Invoke"
      Resource  = "${aws_vpclattice_service.this.arn}/*"
    }]
  })
}

resource "aws_vpclattice_resource_policy" "network" {
  resource_arn = aws_vpclattice_service_network.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ShareWithPartner"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::111122223333:root" }
      Action = [
        "vpc-lattice:CreateServiceNetworkVpcAssociation",
        "vpc-lattice:CreateServiceNetworkServiceAssociation",
        "vpc-lattice:GetServiceNetwork",
      ]
      Resource = aws_vpclattice_service_network.this.arn
    }]
  })
}

output "service_network_id" {
  value = aws_vpclattice_service_network.this.id
}

output "service_id" {
  value = aws_vpclattice_service.this.id
}
