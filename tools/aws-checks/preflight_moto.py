#!/usr/bin/env python3
"""A moto server for `dinoflow aws preflight`'s tests, with one account set up as a deploy needs it.

Usage: python3 preflight_moto.py
Starts moto 5 (server mode) on a free loopback port, then, in us-east-1 of moto's account 123456789012, creates what
template.yaml needs from the account and moto implements: the thing group dinoflow-jetsons with two things, canary
groups dinoflow-canaries (cam-a) and dinoflow-canaries-overlap (cam-b and jetson-02, also in the fleet's group), fleet
indexing with connectivity (REGISTRY + STATUS), and the ECR repository dinoflow-trainer with the image tag 0.1.0.
Every other region stays empty (a fresh account). Prints one JSON line {"endpoint": ...}, then serves until stdin closes.
Greengrass v2, Ground Truth work teams and SageMaker's Service Quotas are not in moto 5.2: the tests answer those.
Exit codes: 0 after stdin closed, 3 a module is missing (the caller skips, naming it).
"""
import json
import os
import socket
import sys

try:
    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
except ImportError as missing:  # pragma: no cover - reported to the test as a skip
    print(f"{sys.executable} lacks moto's server mode ({missing}): pip install 'moto[server]>=5.2' boto3", file=sys.stderr)
    sys.exit(3)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(endpoint):
    def client(service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    iot = client("iot")
    iot.create_thing_group(thingGroupName="dinoflow-jetsons")
    for thing in ("jetson-01", "jetson-02"):
        iot.create_thing(thingName=thing)
        iot.add_thing_to_thing_group(thingGroupName="dinoflow-jetsons", thingName=thing)
    # Canary groups: one apart from the fleet, one that shares jetson-02 with it (a device in both gets two models).
    for group, things in (("dinoflow-canaries", ("cam-a",)), ("dinoflow-canaries-overlap", ("cam-b", "jetson-02"))):
        iot.create_thing_group(thingGroupName=group)
        for thing in things:
            if thing.startswith("cam-"):
                iot.create_thing(thingName=thing)
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS"})

    ecr = client("ecr")
    ecr.create_repository(repositoryName="dinoflow-trainer")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": "sha256:" + "c" * 64},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": "sha256:" + "d" * 64}],
    }
    ecr.put_image(repositoryName="dinoflow-trainer", imageManifest=json.dumps(manifest), imageTag="0.1.0")


def main():
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        seed(endpoint)
        print(json.dumps({"endpoint": endpoint}), flush=True)
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
