# A VPC Lattice service network shared through AWS RAM with a second account, which accepts the
# invitation: the owner is the default account (test/test, in no organization), the receiver the account
# the accounts file of tests/test_terraform_ram.py declares. The test applies it, re-plans (which must
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

variable "receiver_account_id" {
  description = "The account the network is shared with"
  type        = string
  default     = "222222222222"
}

provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true

  endpoints {
    ram        = var.endpoint
    sts        = var.endpoint
    vpclattice = var.endpoint
  }
}

provider "aws" {
  alias                       = "receiver"
  access_key                  = "AKIDRECEIVER"
  secret_key                  = "receiver-secret"
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    ram = var.endpoint
    sts = var.endpoint
  }
}

resource "aws_vpclattice_service_network" "shared" {
  name = "tf-ram-shared"
}

resource "aws_ram_resource_share" "partners" {
  name                      = "tf-ram-partners"
  allow_external_principals = true

  tags = {
    team = "network"
  }
}

resource "aws_ram_resource_association" "network" {
  resource_arn       = aws_vpclattice_service_network.shared.arn
  resource_share_arn = aws_ram_resource_share.partners.arn
}

resource "aws_ram_principal_association" "receiver" {
  principal          = var.receiver_account_id
  resource_share_arn = aws_ram_resource_share.partners.arn
}

resource "aws_ram_resource_share_accepter" "receiver" {
  provider  = aws.receiver
  share_arn = aws_ram_principal_association.receiver.resource_share_arn

  depends_on = [aws_ram_resource_association.network]
}

output "shared_resources" {
  value = aws_ram_resource_share_accepter.receiver.resources
}
