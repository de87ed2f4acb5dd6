"""Test helper for moto's Firehose -> S3 (a real AWS protocol server, see test-infrastructure.md).

  moto_s3.py setup ENDPOINT BUCKET STREAM   create the bucket and an uncompressed delivery stream
  moto_s3.py dump ENDPOINT BUCKET           print every object's body, in key order
  moto_s3.py put ENDPOINT BUCKET KEY FILE   store FILE as object KEY (the bucket is created if missing)
"""
import sys

import boto3


def client(kind, endpoint):
    return boto3.client(kind, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def main():
    cmd, endpoint, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
    s3 = client("s3", endpoint)
    if cmd == "setup":
        stream = sys.argv[4]
        s3.create_bucket(Bucket=bucket)
        client("firehose", endpoint).create_delivery_stream(
            DeliveryStreamName=stream,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "CompressionFormat": "UNCOMPRESSED",
            },
        )
    elif cmd == "dump":
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys += [o["Key"] for o in page.get("Contents", [])]
        out = sys.stdout.buffer
        for key in sorted(keys):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            out.write(body)
            if body and not body.endswith(b"\n"):
                out.write(b"\n")
    elif cmd == "put":
        key, path = sys.argv[4], sys.argv[5]
        if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=bucket)
        with open(path, "rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body.read())
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
