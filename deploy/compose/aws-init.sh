#!/bin/sh
# Init hook of docker-compose.yml: creates the S3 bucket and the Firehose delivery stream in
# the AWS emulator (moto's server) before the validators start. Idempotent.
set -eu
endpoint="${AWS_ENDPOINT_URL:?}"
bucket="${PLAYSTREAM_BUCKET:-game-events-lake}"
stream="${PLAYSTREAM_STREAM:-game-events}"
for _ in $(seq 1 60); do
  aws s3api list-buckets >/dev/null 2>&1 && break
  echo "waiting for the AWS emulator at $endpoint"; sleep 1
done
aws s3api head-bucket --bucket "$bucket" 2>/dev/null || aws s3api create-bucket --bucket "$bucket"
if ! aws firehose describe-delivery-stream --delivery-stream-name "$stream" >/dev/null 2>&1; then
  # UNCOMPRESSED: moto cannot describe a stream created without a compression format
  aws firehose create-delivery-stream --delivery-stream-name "$stream" \
    --delivery-stream-type DirectPut \
    --extended-s3-destination-configuration \
    "RoleARN=arn:aws:iam::123456789012:role/firehose,BucketARN=arn:aws:s3:::${bucket},Prefix=events/,CompressionFormat=UNCOMPRESSED"
fi
echo "bucket $bucket and delivery stream $stream ready"
