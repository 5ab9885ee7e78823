# Resource gateway, resource configurations and a service-network resource
# association, each left at AWS's defaults where Terraform's acceptance tests
# leave them: the SINGLE configuration omits allow_association_to_shareable_service_network
# (AWS answers true) and joins a plain, shareable service network; the GROUP
# configuration has only a protocol and a gateway, its CHILD brings the port
# ranges. tests/test_terraform_resources.py applies it, re-plans (which must
# show no changes) and destroys it.

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
  default     = "tf-rcfg"
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
    ec2        = var.endpoint
    sts        = var.endpoint
    iam        = var.endpoint
  }
}

resource "aws_vpc" "this" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "${var.name_prefix}-vpc"
  }
}

resource "aws_subnet" "this" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = "10.0.1.0/24"
  availability_zone = "us-east-1a"
  tags = {
    Name = "${var.name_prefix}-subnet"
  }
}

resource "aws_security_group" "this" {
  name   = "${var.name_prefix}-gateway"
  vpc_id = aws_vpc.this.id
}

resource "aws_vpclattice_resource_gateway" "this" {
  name               = "${var.name_prefix}-gateway"
  vpc_id             = aws_vpc.this.id
  security_group_ids = [aws_security_group.this.id]
  subnet_ids         = [aws_subnet.this.id]
  ip_address_type    = "IPV4"
}

# No allow_association_to_shareable_service_network: AWS answers true.
resource "aws_vpclattice_resource_configuration" "database" {
  name                        = "${var.name_prefix}-database"
  resource_gateway_identifier = aws_vpclattice_resource_gateway.this.id

  port_ranges = ["5432"]
  protocol    = "TCP"

  resource_configuration_definition {
    ip_resource {
      ip_address = "10.0.1.10"
    }
  }
}

# No sharing_config: the network is shareable.
resource "aws_vpclattice_service_network" "this" {
  name = "${var.name_prefix}-network"
}

resource "aws_vpclattice_service_network_resource_association" "database" {
  resource_configuration_identifier = aws_vpclattice_resource_configuration.database.id
  service_network_identifier        = aws_vpclattice_service_network.this.id

  tags = {
    Name = "${var.name_prefix}-database"
  }
}

# A GROUP with no port ranges and no definition; the CHILD names its group and
# inherits the gateway and protocol.
resource "aws_vpclattice_resource_configuration" "group" {
  name                        = "${var.name_prefix}-group"
  type                        = "GROUP"
  protocol                    = "TCP"
  resource_gateway_identifier = aws_vpclattice_resource_gateway.this.id
}

resource "aws_vpclattice_resource_configuration" "child" {
  name                            = "${var.name_prefix}-child"
  type                            = "CHILD"
  resource_configuration_group_id = aws_vpclattice_resource_configuration.group.id

  port_ranges = ["80"]

  resource_configuration_definition {
    ip_resource {
      ip_address = "10.0.1.20"
    }
  }
}

output "database_allows_shareable_networks" {
  value = aws_vpclattice_resource_configuration.database.allow_association_to_shareable_service_network
}

output "child_gateway" {
  value = aws_vpclattice_resource_configuration.child.resource_gateway_identifier
}
