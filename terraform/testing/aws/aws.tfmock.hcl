# The AWS provider's mocks for every module's and example's terraform test: policy documents must
# be JSON objects, and ARNs and ids must look like AWS's, since the provider checks them even when
# mocked.

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}
mock_resource "aws_lb" {
  defaults = {
    arn      = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/meridian/0123456789abcdef"
    dns_name = "meridian-0123456789abcdef.elb.us-east-1.amazonaws.com"
    zone_id  = "Z26RNL4JYFTOTI"
  }
}
mock_resource "aws_lb_target_group" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/meridian/0123456789abcdef"
  }
}
mock_resource "aws_launch_template" {
  defaults = {
    id = "lt-0123456789abcdef0"
  }
}
mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::111122223333:role/meridian"
  }
}
mock_resource "aws_kms_key" {
  defaults = {
    arn = "arn:aws:kms:us-east-1:111122223333:key/meridian"
  }
}
mock_resource "aws_s3_bucket" {
  defaults = {
    arn = "arn:aws:s3:::meridian-snapshots-us-east-1"
  }
}
mock_resource "aws_msk_configuration" {
  defaults = {
    arn = "arn:aws:kafka:us-east-1:111122223333:configuration/meridian/0123"
  }
}
mock_resource "aws_instance" {
  defaults = {
    id         = "i-0123456789abcdef0"
    private_ip = "10.0.1.10"
  }
}
