# EC2 networking configuration: a VPC with DNS hostnames, two subnets in
# different Availability Zones, a security group with inline rules plus a
# standalone ingress rule, and a route table associated with a subnet.
# tests/test_terraform_ec2.py applies it against Latticework, re-plans (which
# must show no changes) and destroys it.

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
  default     = "tf-ec2"
}

provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  region                      = "us-east-1"
  skip_credentials_validation = true
  # The account id (from STS GetCallerIdentity) tells the provider that a rule's
  # referenced group is in this account; without it, AWS's UserId in the rule
  # reads back as "<account>/sg-..." and the plan never settles.
  skip_requesting_account_id  = false
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    ec2 = var.endpoint
    sts = var.endpoint
    iam = var.endpoint
  }
}

resource "aws_vpc" "this" {
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "us-east-1a"
  tags = {
    Name = "${var.name_prefix}-a"
  }
}

resource "aws_subnet" "b" {
  vpc_id               = aws_vpc.this.id
  cidr_block           = "10.20.2.0/24"
  availability_zone_id = "use1-az2"
  tags = {
    Name = "${var.name_prefix}-b"
  }
}

resource "aws_security_group" "web" {
  name        = "${var.name_prefix}-web"
  description = "web servers"
  vpc_id      = aws_vpc.this.id

  ingress {
    description = "HTTPS from the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [aws_vpc.this.cidr_block]
  }

  ingress {
    from_port = 0
    to_port   = 0
    protocol  = "-1"
    self      = true
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    Name = "${var.name_prefix}-web"
  }
}

resource "aws_security_group" "app" {
  name_prefix = "${var.name_prefix}-app-"
  description = "app servers"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "app_from_web" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.web.id
  from_port                    = 8080
  to_port                      = 8080
  ip_protocol                  = "tcp"
  description                  = "app port from web"
  tags = {
    Name = "${var.name_prefix}-app-from-web"
  }
}

resource "aws_vpc_security_group_ingress_rule" "app_icmp" {
  security_group_id = aws_security_group.app.id
  cidr_ipv4         = "10.20.0.0/16"
  ip_protocol       = "icmp"
  from_port         = -1
  to_port           = -1
}

resource "aws_vpc_security_group_egress_rule" "app_out" {
  security_group_id = aws_security_group.app.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "192.168.0.0/16"
    gateway_id = "igw-0123456789abcdef0"
  }

  tags = {
    Name = "${var.name_prefix}-private"
  }
}

resource "aws_route_table_association" "a" {
  subnet_id      = aws_subnet.a.id
  route_table_id = aws_route_table.private.id
}

data "aws_availability_zones" "available" {
  state = "available"
}

output "zones" {
  value = data.aws_availability_zones.available.names
}
