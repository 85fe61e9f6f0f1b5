#!/usr/bin/env python3
"""Runs DinoFlow's state machines in an engine this project did not write: moto's Step Functions interpreter
(moto/stepfunctions/parser, ported from LocalStack), inside a moto server that also answers S3, SageMaker training
jobs, SNS and SQS.

    sfn_engine.py PLAN.json REPORT.json

The plan (written by tests/DinoFlow.Aws.Functions.Tests/Engine.cs) gives the definitions (trigger, pipeline, and the
wait state machine the pipeline starts with states:startExecution.sync:2) with their
DefinitionSubstitutions filled, the uploads, the recorded responses and what to do; the report lists every execution
with its status, error, cause and the states it entered, the SNS messages, the bucket's keys and every recorded call.

What is real and what is not:
- The ASL is interpreted by moto (Choice, Wait, Retry, Catch, intrinsics, JSONPath, the service integrations).
- Lambda Tasks run the real C# handlers: moto's Lambda backend needs Docker, so its invoke is replaced by a POST to the
  test's handler endpoint, which runs the handler class template.yaml names, against this moto's S3 over HTTP. A
  handler's exception comes back as a Lambda function error whose errorType is the exception's type name, as the .NET
  Lambda runtime reports it.
- S3, SNS, SQS, Step Functions (startExecution, and startExecution.sync:2 for the waits' child executions), SageMaker
  CreateTrainingJob/DescribeTrainingJob are moto's own. A training job completes at once in moto; the "container"
  output (model.tar.gz) is the plan's trainingArtifact, put where SageMaker would write it.
- Operations moto does not implement (SageMaker labeling jobs, Greengrass v2, the rollout's IoT DescribeJob and
  ListJobExecutionsForJob) and injected faults (e.g. AccessDenied on CreateTrainingJob, ResourceInUse on a create, a
  training job that SageMaker reports Failed) are answered from the plan's recorded responses, before the
  request leaves the client. Every recorded answer is logged in the report.
- Wait states do not sleep (the requested seconds are logged).
- IAM is enforced (plan["iam"], iam_check.py): each Lambda handler's S3 client signs as a moto user holding only its
  function role's translated policies; every state machine integration call is authorized against its machine's role
  with the call's IAM actions and ARNs; the report's "iam" lists each check.
- moto has no RedriveExecution and no $$.Execution.RedriveCount. Redrive is EMULATED: the failed execution's history
  gives the state that failed and the input it entered with; a copy of the definition whose StartAt is that state runs
  under the same execution name in the same engine, with $$.Execution.RedriveCount set to the redrive number.
- moto names an aws-sdk integration's error "<service>.<Class>Exception" from botocore's exception class; AWS names it
  "<ServiceName>.<ErrorCode>" with an "Exception" suffix (Step Functions developer guide, "AWS SDK service
  integrations"). The engine is given AWS's rule for the services the pipeline calls.

Exit code 3: moto (with its server extras) is missing.
"""

import base64
import fnmatch
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import urllib.parse
import uuid

import iam_check

try:
    import boto3
    import moto
    from moto.core.config import default_user_config
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
except ImportError as missing:  # pragma: no cover - reported to the test as a skip
    print(f"python3 lacks moto with its server extras ({missing}): pip install 'moto[server]>=5.1'", file=sys.stderr)
    sys.exit(3)

if tuple(int(p) for p in moto.__version__.split(".")[:2]) < (5, 1):
    print(f"moto {moto.__version__} is too old for Step Functions execution: pip install 'moto[server]>=5.1'", file=sys.stderr)
    sys.exit(3)

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/dinoflow-states"

log = {"recorded": [], "waits": [], "invocations": [], "calls": []}
recorded = {}
lock = threading.Lock()
# Least privilege (plan["iam"]): each function's and machine's calls are authorized against its own translated role.
ENFORCER = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_engine(plan):
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    os.environ.update(AWS_ACCESS_KEY_ID="ak", AWS_SECRET_ACCESS_KEY="sk", AWS_DEFAULT_REGION=REGION)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    port = free_port()
    os.environ["MOTO_PORT"] = str(port)  # where the interpreter's service integrations send their calls
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    global ENFORCER
    if plan.get("iam"):
        ENFORCER = iam_check.Enforcer(plan, translated_template(plan["iam"]["template"]), REGION, ACCOUNT, lock)
        ENFORCER.create_users(endpoint)
    patch_lambda(plan["handlers"], endpoint, plan.get("stackName", "dinoflow"))
    patch_clients()
    patch_waits()
    patch_context()
    patch_error_names()
    patch_training(plan.get("trainingArtifact"))
    patch_clone()
    patch_start_execution()
    patch_sdk_names()
    if ENFORCER:
        ENFORCER.start()  # from here on moto authorizes every request
    return server, endpoint


def translated_template(path):
    """template.yaml as `sam deploy` packages and translates it (check_template.py)."""
    import tempfile

    import check_template

    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "translated.json")
        check_template.translate(path, out)
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def patch_lambda(handlers, endpoint, stack):
    from moto.awslambda.models import LambdaBackend

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        name = function_name.split(":")[-1]
        if name.startswith(stack + "-"):
            name = name[len(stack) + 1:]
        payload = body if isinstance(body, (bytes, bytearray)) else (body or "{}").encode()
        query = {"endpoint": endpoint}
        if ENFORCER:
            # The handler's S3 client signs with the access key of a user holding only its function role's policies.
            query["accessKey"], query["secretKey"] = ENFORCER.function_key(name)
        request = urllib.request.Request(f"{handlers}invoke/{name}?{urllib.parse.urlencode(query)}", data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                result = response.read()
            outcome = "ok"
        except urllib.error.HTTPError as error:
            result = error.read()
            response_headers["x-amz-function-error"] = "Unhandled"
            outcome = json.loads(result).get("errorType", "error")
        with lock:
            log["invocations"].append({"function": name, "outcome": outcome})
        response_headers["Content-Length"] = str(len(result))
        return result

    LambdaBackend.invoke = invoke


class _Http:
    def __init__(self, status):
        self.status_code = status
        self.headers = {}
        self.content = b""
        self.raw = None


def _recorded_answer(model, params, **kwargs):
    key = f"{model.service_model.service_name}.{model.name}"
    with lock:
        answers = recorded.get(key)
        if not answers:
            return None
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        try:
            request = json.loads(params.get("body") or b"{}")
        except ValueError:
            request = {}
        log["recorded"].append({"call": key, "request": request, "answer": answer})
    if key == "sagemaker.CreateLabelingJob":
        labeling_jobs[request.get("LabelingJobName")] = request
    if "groundTruth" in answer:
        answer = _labeling_output(request, answer)
    if "error" in answer:
        error = answer["error"]
        status = answer.get("status", 400)
        return _Http(status), {"Error": {"Code": error["Code"], "Message": error["Message"]},
                               "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "recorded"}}
    # "{Field}" in a recorded answer is the request's top-level field (e.g. the job name the state machine chose).
    text = json.dumps(answer["response"])
    for field, value in request.items():
        if isinstance(value, str):
            text = text.replace("{" + field + "}", value)
    response = json.loads(text)
    response["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": "recorded"}
    return _Http(200), response


labeling_jobs = {}
uploads_delivered = threading.Event()
uploads_delivered.set()


def _s3_backend():
    from moto.s3.models import s3_backends

    return s3_backends[ACCOUNT]["global"]


def _labeling_output(request, answer):
    """The labelers' work for a recorded labeling job (its CreateLabelingJob request is remembered): a
    DescribeLabelingJob answer with "groundTruth" writes the job's output manifest as Ground Truth does (one line per input image, the class index
    and its metadata, labels chosen by the image's recording) and answers Completed with its location."""
    job = labeling_jobs[request["LabelingJobName"]]
    truth = answer["groundTruth"]
    manifest = job["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
    bucket, key = manifest[len("s3://"):].split("/", 1)
    lines = _s3_backend().get_object(bucket, key).value.decode().splitlines()
    attribute = job["LabelAttributeName"]
    categories = truth["categories"]
    out = []
    for line in filter(None, lines):
        ref = json.loads(line)["source-ref"]
        recording = ref.rsplit("/", 1)[-1].split("_", 1)[0]
        label = truth["labelOf"][recording]
        out.append(json.dumps({"source-ref": ref, attribute: categories.index(label), f"{attribute}-metadata": {
            "class-name": label, "confidence": 0.97, "type": "groundtruth/image-classification", "human-annotated": "yes",
            "creation-date": "2025-06-02T10:15:00.000000", "job-name": f"labeling-job/{request['LabelingJobName']}"}}))
    output = f"{job['OutputConfig']['S3OutputPath']}{request['LabelingJobName']}/manifests/output/output.manifest"
    obucket, okey = output[len("s3://"):].split("/", 1)
    _s3_backend().put_object(obucket, okey, ("\n".join(out) + "\n").encode())
    return {"response": {
        "LabelingJobName": request["LabelingJobName"], "LabelingJobStatus": "Completed",
        "LabelingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{request['LabelingJobName']}",
        "LabelAttributeName": attribute, "LabelingJobOutput": {"OutputDatasetS3Uri": output},
        "LabelCounters": {"TotalLabeled": len(out), "HumanLabeled": len(out), "MachineLabeled": 0, "FailedNonRetryableError": 0, "Unlabeled": 0},
        "CreationTime": "2025-06-02T09:32:00Z", "LastModifiedTime": "2025-06-02T10:15:00Z", "JobReferenceCode": "recorded",
        "RoleArn": job["RoleArn"], "InputConfig": job["InputConfig"], "OutputConfig": job["OutputConfig"],
        "HumanTaskConfig": job["HumanTaskConfig"]}}


def patch_clients():
    """Every client the interpreter makes answers recorded calls first (the table is per scenario)."""
    import importlib
    import pkgutil

    import moto.stepfunctions.parser.asl as asl
    from moto.stepfunctions.parser.asl.utils import boto_client

    for module in pkgutil.walk_packages(asl.__path__, asl.__name__ + "."):
        try:
            importlib.import_module(module.name)
        except Exception:  # noqa: BLE001 - a module the pipeline does not use
            pass
    original = boto_client.boto_client_for
    machine = iam_check.current_machine_tracker()

    def _authorize(params, model, **kwargs):
        # Before a recorded answer: a call moto does not implement is still authorized against the machine's role.
        ENFORCER.authorize(machine(), model.service_model.service_name, model.name, params)

    def _log_call(params, model, **kwargs):
        # What botocore is handed (the API's names, after the interpreter's normalisation): the request AWS would get.
        if model.service_model.service_name == "lambda":
            return  # the handlers' payloads, not a service integration's request
        with lock:
            log["calls"].append({"machine": machine(), "call": f"{model.service_model.service_name}.{model.name}",
                                 "request": json.loads(json.dumps(params, default=str))})

    def boto_client_for(region, service, state_credentials=None):
        client = original(region=region, service=service, state_credentials=state_credentials)
        client.meta.events.register("before-parameter-build.*.*", _log_call)
        if ENFORCER:
            client.meta.events.register("before-parameter-build.*.*", _authorize)
        client.meta.events.register("before-call.*.*", _recorded_answer)
        return client

    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for


def patch_clone():
    """moto deep-copies a state machine at every StartExecution, with the executions it holds, whose worker threads
    cannot be copied: the second execution of a machine fails (moto 5.1/5.2 in server mode). Executions are shared."""
    from moto.stepfunctions.parser.backend.execution import Execution

    Execution.__deepcopy__ = lambda self, memo: self


def patch_start_execution():
    """moto 5.2.1 hands states:startExecution's parameters to botocore as written in the state (StateMachineArn), not
    under the API's names (stateMachineArn), and botocore's serializer fails; and it returns botocore's response
    (executionArn, a datetime startDate) where Step Functions returns {"ExecutionArn", "StartDate": ISO text}. Both are
    mapped here."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn as sfn

    original = sfn.StateTaskServiceSfn._eval_service_task

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        for key in [k for k in normalised_parameters if k[:1].isupper()]:
            normalised_parameters[key[0].lower() + key[1:]] = normalised_parameters.pop(key)
        original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        response = env.stack.pop()
        env.stack.append({k[0].upper() + k[1:]: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in response.items()})

    sfn.StateTaskServiceSfn._eval_service_task = _eval_service_task

    # startExecution.sync:2 (the pipeline's bounded waits): Step Functions returns the child's DescribeExecution in
    # PascalCase ({"Status", "Output": parsed JSON, ...}); moto 5.2.1 returns botocore's camelCase names. Mapped here too.
    original_sync2 = sfn.StateTaskServiceSfn._build_sync2_resolver

    def _build_sync2_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        resolve = original_sync2(self, env, resource_runtime_part, normalised_parameters, state_credentials)

        def resolver():
            described = resolve()
            if described is None:
                return None
            return {k[0].upper() + k[1:]: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in described.items()}

        return resolver

    sfn.StateTaskServiceSfn._build_sync2_resolver = _build_sync2_resolver


def _iso(value):
    if isinstance(value, dict):
        for k, v in value.items():
            value[k] = _iso(v)
    elif isinstance(value, list):
        value[:] = [_iso(v) for v in value]
    elif hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def patch_sdk_names():
    """Step Functions writes aws-sdk parameters in PascalCase and returns results in PascalCase even where the API is
    camelCase (Greengrass v2, IoT). moto 5.2.1 leaves both normalisations empty (its LocalStack original has them), so a
    camelCase API fails in botocore's serializer: they are filled in here from botocore's models, with the interpreter's
    own mapping functions. Timestamps become ISO-8601 text."""
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk as sdk

    session = botocore.session.get_session()

    def operation(self):
        action = self.resource.api_action
        return session.get_service_model(self._get_boto_service_name()).operation_model(action[0].upper() + action[1:])

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        self._to_boto_request(parameters, operation(self).input_shape)

    def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
        shape = operation(self).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)
        _iso(response)

    from botocore.model import MapShape
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService

    to_value = StateTaskService._to_boto_request_value

    def _to_boto_request_value(self, request_value, value_shape):
        # The map's keys are data (component names); its values are structures in the API's names.
        if isinstance(value_shape, MapShape) and isinstance(request_value, dict):
            for key, item in request_value.items():
                request_value[key] = _to_boto_request_value(self, item, value_shape.value)
            return request_value
        return to_value(self, request_value, value_shape)

    StateTaskService._to_boto_request_value = _to_boto_request_value
    sdk.StateTaskServiceAwsSdk._normalise_parameters = _normalise_parameters
    sdk.StateTaskServiceAwsSdk._normalise_response = _normalise_response


def patch_waits():
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def _wait_interval(self, env, wait_seconds):
        # No sleeping, but a Wait ends only after what the scenario does "meanwhile": the phase's upload batches have all
        # been delivered to the trigger (a burst arrives within the pipeline's 60 s settle wait).
        uploads_delivered.wait(timeout=120)
        with lock:
            log["waits"].append(wait_seconds)

    WaitFunction._wait_interval = _wait_interval


def patch_context():
    """$$.Execution.RedriveCount: 0, or N for the emulated redrive's machine '<name>-redrive-N'."""
    from moto.stepfunctions.parser.backend import execution_worker

    original = execution_worker.ExecutionWorker._get_evaluation_environment

    def environment(self):
        env = original(self)
        machine = self._evaluation_details.state_machine_details.name
        count = int(machine.rsplit("-redrive-", 1)[1]) if "-redrive-" in machine else 0
        context = env.states.context_object.context_object_data
        context["Execution"]["RedriveCount"] = count
        if count:
            # A redriven execution keeps its ARN and its state machine.
            redriven = machine.rsplit("-redrive-", 1)[0]
            context["Execution"]["Id"] = context["Execution"]["Id"].replace(f":{machine}:", f":{redriven}:")
            context["StateMachine"]["Id"] = context["StateMachine"]["Id"].replace(f":{machine}", f":{redriven}")
            context["StateMachine"]["Name"] = redriven
        return env

    execution_worker.ExecutionWorker._get_evaluation_environment = environment


def patch_error_names():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk as sdk

    sdk._SERVICE_ERROR_NAMES.update({"sagemaker": "SageMaker", "greengrassv2": "GreengrassV2", "iot": "Iot", "s3": "S3", "sns": "SNS"})

    def name(norm_service_name, ex):
        code = getattr(ex, "response", {}).get("Error", {}).get("Code") or ex.__class__.__name__
        return f"{norm_service_name}.{code}" if code.endswith("Exception") else f"{norm_service_name}.{code}Exception"

    sdk.StateTaskServiceAwsSdk._normalise_exception_name = staticmethod(name)


def patch_training(artifact):
    """A training job completes at once in moto; its output is the plan's model.tar.gz, where SageMaker writes it."""
    if not artifact:
        return
    from moto.s3.models import s3_backends
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.create_training_job

    def create_training_job(self, *args, **kwargs):
        job = original(self, *args, **kwargs)
        uri = job.model_artifacts["S3ModelArtifacts"]
        bucket, key = uri[len("s3://"):].split("/", 1)
        with open(artifact, "rb") as f:
            s3_backends[ACCOUNT]["global"].put_object(bucket, key, f.read())
        return job

    SageMakerModelBackend.create_training_job = create_training_job


def upload_event(bucket, key, size, etag, when):
    return json.dumps({
        "version": "0", "id": key, "detail-type": "Object Created", "source": "aws.s3", "account": ACCOUNT,
        "time": when, "region": REGION, "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": size, "etag": etag}},
    })


class Scenario:
    def __init__(self, plan, endpoint):
        self.plan = plan
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        self.sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=REGION)
        self.sns = boto3.client("sns", endpoint_url=endpoint, region_name=REGION)
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.bucket = plan["bucket"]
        self.endpoint = endpoint
        self.machines = {}
        self.definitions = {}
        self.redriven = []

    def setup(self):
        self.s3.create_bucket(Bucket=self.bucket)
        topic = self.sns.create_topic(Name=self.plan["topicName"])["TopicArn"]
        queue = self.sqs.create_queue(QueueName="failure-mail")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"})
        self.queue = queue
        for name, machine in self.plan["machines"].items():
            self.definitions[name] = machine["definition"]
            self.machines[name] = self.sfn.create_state_machine(
                name=name, definition=machine["definition"], roleArn=ROLE, type=machine.get("type", "STANDARD"))["stateMachineArn"]

    def record(self, table):
        with lock:
            recorded.clear()
            recorded.update({k: list(v) for k, v in table.items()})

    def upload(self, uploads, batch_size, trigger):
        """Puts the objects, then does what the EventBridge Pipe does: ≤ batch_size events → one trigger execution."""
        events = []
        for i, item in enumerate(uploads):
            with open(item["file"], "rb") as f:
                body = f.read()
            etag = self.s3.put_object(Bucket=self.bucket, Key=item["key"], Body=body)["ETag"].strip('"')
            when = f"2025-06-02T09:{30 + i // 60:02d}:{i % 60:02d}Z"
            events.append({"body": upload_event(self.bucket, item["key"], len(body), etag, when)})
        return self.deliver(events, batch_size, trigger)

    def deliver(self, events, batch_size, trigger):
        """The pipe's pollers deliver the events' batches (≤ batch_size events each) concurrently, each to a synchronous
        (REQUEST_RESPONSE) Express trigger execution."""
        uploads_delivered.clear()
        try:
            started = [self.sfn.start_execution(stateMachineArn=self.machines[trigger], name=str(uuid.uuid4()),
                                                input=json.dumps(events[i:i + batch_size]))["executionArn"]
                       for i in range(0, len(events), batch_size)]
            self.wait(started)
        finally:
            uploads_delivered.set()
        return started

    def announce(self, prefixes, batch_size, trigger):
        """Upload events for objects already in the bucket (what a function wrote, e.g. the closed loop's copies under
        incoming/unlabeled/feedback/): S3 sends them to EventBridge as for any upload; here they go to the trigger as
        the pipe delivers them."""
        events = []
        for prefix in prefixes:
            for item in self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", []):
                when = f"2025-06-02T11:00:{len(events) % 60:02d}Z"
                events.append({"body": upload_event(self.bucket, item["Key"], item["Size"], item["ETag"].strip('"'), when)})
        return self.deliver(events, batch_size, trigger)

    def invoke(self, calls, stack):
        """Invokes functions as an event source outside the state machines does (an IoT rule's Lambda action): the
        patched invoke runs the handler under its own function role, as in the scenarios."""
        client = boto3.client("lambda", endpoint_url=self.endpoint, region_name=REGION)
        results = []
        for call in calls:
            answer = client.invoke(FunctionName=f"{stack}-{call['function']}", Payload=json.dumps(call["payload"]).encode())
            results.append({"function": call["function"], "error": answer.get("FunctionError"),
                            "payload": json.loads(answer["Payload"].read() or b"null")})
        return results

    def start_by_hand(self, runs, pipeline):
        """Executions started by hand (the console's "Start execution" with a batch manifest): the objects are put without
        upload events, each run's batch manifest is written as the trigger would, and the executions start back to back."""
        uploads_delivered.clear()
        try:
            for run in runs:
                objects = []
                for i, item in enumerate(run["uploads"]):
                    with open(item["file"], "rb") as f:
                        body = f.read()
                    put = self.s3.put_object(Bucket=self.bucket, Key=item["key"], Body=body)
                    objects.append({"bucket": self.bucket, "key": item["key"], "size": len(body), "eTag": put["ETag"].strip('"'),
                                    "time": f"2025-06-03T10:00:{i % 60:02d}+00:00"})
                key = f"batches/{run['name']}.json"
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps({"batchId": run["name"], "objects": objects}).encode())
                run_input = {"batchId": run["name"], "bucket": self.bucket, "batchManifestUri": f"s3://{self.bucket}/{key}", "objectCount": len(objects)}
                self.sfn.start_execution(stateMachineArn=self.machines[pipeline], name=run["name"], input=json.dumps(run_input))
        finally:
            uploads_delivered.set()

    def executions(self, machine):
        return self.sfn.list_executions(stateMachineArn=self.machines[machine])["executions"]

    def wait(self, arns, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(self.sfn.describe_execution(executionArn=a)["status"] != "RUNNING" for a in arns):
                return
            time.sleep(0.2)
        raise TimeoutError(f"executions still running after {timeout} s: {[(a, self.history(a)[-1]) for a in arns]}")

    def wait_machine(self, machine, timeout=90):
        """Waits until no execution of the machine runs (executions may start others meanwhile)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(e["status"] != "RUNNING" for m in self.machines if m.startswith(machine) for e in self.executions(m)):
                time.sleep(0.5)
                if all(e["status"] != "RUNNING" for m in self.machines if m.startswith(machine) for e in self.executions(m)):
                    return
            time.sleep(0.2)
        running = [(e["name"], self.history(e["executionArn"])[-1]) for m in self.machines if m.startswith(machine) for e in self.executions(m) if e["status"] == "RUNNING"]
        raise TimeoutError(f"{machine} still running after {timeout} s: {running}")

    def history(self, arn):
        events, token = [], None
        while True:
            page = self.sfn.get_execution_history(executionArn=arn, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def redrive(self, arn):
        """Emulated RedriveExecution: re-enter the failed state with its entered input, same execution name."""
        described = self.sfn.describe_execution(executionArn=arn)
        machine = next(m for m, a in self.machines.items() if a == described["stateMachineArn"])
        base = machine.split("-redrive-")[0]
        entered = {}
        failed_state = None
        for event in self.history(arn):
            if event["type"].endswith("StateEntered"):
                details = event["stateEnteredEventDetails"]
                entered[details["name"]] = details["input"]
                failed_state = details["name"]
            elif event["type"].endswith("StateExited"):
                if event["stateExitedEventDetails"]["name"] == failed_state:
                    failed_state = None
        if failed_state is None:
            raise RuntimeError(f"{arn} has no state that failed")
        count = 1 + sum(1 for r in self.redriven if r["of"].split(":")[-1] == described["name"])
        definition = json.loads(self.definitions[base])
        definition["StartAt"] = failed_state
        name = f"{base}-redrive-{count}"
        self.machines[name] = self.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
        new = self.sfn.start_execution(stateMachineArn=self.machines[name], name=described["name"], input=entered[failed_state])["executionArn"]
        self.redriven.append({"of": arn, "state": failed_state, "redriveCount": count, "execution": new})
        self.wait([new])
        return new

    def describe(self, machine):
        result = []
        for m, arn in self.machines.items():
            if m.split("-redrive-")[0] != machine:
                continue
            for e in sorted(self.executions(m), key=lambda x: x["startDate"]):
                d = self.sfn.describe_execution(executionArn=e["executionArn"])
                states = []
                failures = []
                failed_task = None
                for event in self.history(e["executionArn"]):
                    if event["type"].endswith("StateEntered"):
                        states.append(event["stateEnteredEventDetails"]["name"])
                    if event["type"].endswith("Failed") and event["type"] not in ("TaskFailed", "LambdaFunctionFailed"):
                        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
                        failures.append({"type": event["type"], "state": states[-1] if states else None, "error": details.get("error"), "cause": details.get("cause")})
                    if event["type"] in ("TaskFailed", "LambdaFunctionFailed"):
                        details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails") or {}
                        failed_task = {"state": states[-1] if states else None, "error": details.get("error"), "cause": details.get("cause")}
                result.append({"machine": m, "name": e.get("name") or e["executionArn"].split(":")[-1], "arn": d["executionArn"], "status": d["status"],
                               "error": d.get("error"), "cause": d.get("cause"), "states": states, "lastTaskFailure": failed_task, "failures": failures,
                               "output": d.get("output")})
        return result

    def notifications(self):
        messages = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return messages
            for m in got:
                body = json.loads(m["Body"])
                messages.append({"subject": body.get("Subject"), "message": body.get("Message")})
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])

    def keys(self):
        keys, token = [], None
        while True:
            page = self.s3.list_objects_v2(Bucket=self.bucket, **({"ContinuationToken": token} if token else {}))
            keys += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return keys


def run(plan):
    server, endpoint = start_engine(plan)
    started = time.time()
    try:
        scenario = Scenario(plan, endpoint)
        scenario.setup()
        report = {"phases": []}
        for phase in plan["phases"]:
            scenario.record(phase.get("recorded", {}))
            done = {"name": phase["name"]}
            # Objects that arrive without an upload event (e.g. what an IoT rule writes: shadow/DEVICE/…json).
            for item in phase.get("objects", []):
                scenario.s3.put_object(Bucket=scenario.bucket, Key=item["key"], Body=item["body"].encode())
            # Binary ones (e.g. a run's model package zip), base64 in the plan.
            for item in phase.get("binaryObjects", []):
                scenario.s3.put_object(Bucket=scenario.bucket, Key=item["key"], Body=base64.b64decode(item["base64"]))
            if "uploads" in phase:
                done["triggers"] = scenario.upload(phase["uploads"], plan.get("batchSize", 100), plan["trigger"])
            if "startPipeline" in phase:
                scenario.sfn.start_execution(stateMachineArn=scenario.machines[plan["pipeline"]], name=phase["startPipeline"]["name"],
                                             input=phase["startPipeline"]["input"])
            if "invoke" in phase:
                done["invoked"] = scenario.invoke(phase["invoke"], plan.get("stackName", "dinoflow"))
            if "announce" in phase:
                done["triggers"] = scenario.announce(phase["announce"], plan.get("batchSize", 100), plan["trigger"])
            if "startByHand" in phase:
                scenario.start_by_hand(phase["startByHand"], plan["pipeline"])
            if phase.get("restartNotified"):
                # The remedy for a notified failure: a new execution with the same input.
                for e in scenario.describe(plan["pipeline"]):
                    if e["error"] == "DinoFlow.Notified" and e["machine"] == plan["pipeline"]:
                        given = scenario.sfn.describe_execution(executionArn=e["arn"])["input"]
                        scenario.sfn.start_execution(stateMachineArn=scenario.machines[plan["pipeline"]], name=e["name"] + "-again", input=given)
            if phase.get("redriveFailed"):
                failed = [e for e in scenario.describe(plan["pipeline"]) if e["status"] == "FAILED" and e["error"] != "DinoFlow.Notified"]
                done["redriven"] = [scenario.redrive(e["arn"]) for e in failed if not any(r["of"] == e["arn"] for r in scenario.redriven)]
            scenario.wait_machine(plan["pipeline"])
            scenario.wait_machine(plan["trigger"])
            done["pipeline"] = scenario.describe(plan["pipeline"])
            done["trigger"] = scenario.describe(plan["trigger"])
            # Child machines the plan names for the report (e.g. the canary rollout), by their machine name.
            for child in plan.get("describe", []):
                done[child] = scenario.describe(child)
            done["notifications"] = scenario.notifications()
            done["keys"] = scenario.keys()
            # The text of the shared objects the test asks for (e.g. data/labels.manifest), as the phase left them.
            # A key with "*" is a pattern (runs/*/ingest/input.manifest: the run's name is not known before it starts).
            done["texts"] = {k: scenario.s3.get_object(Bucket=scenario.bucket, Key=k)["Body"].read().decode()
                             for k in done["keys"] if any(fnmatch.fnmatchcase(k, r) for r in plan.get("readKeys", []))}
            report["phases"].append(done)
        report["redrives"] = scenario.redriven
        report["recorded"] = log["recorded"]
        report["waits"] = log["waits"]
        report["invocations"] = log["invocations"]
        report["calls"] = log["calls"]
        if plan.get("renderTo"):
            render_requests(plan, log["calls"], scenario, plan["renderTo"])
        if ENFORCER:
            report["iam"] = ENFORCER.report()
        report["seconds"] = round(time.time() - started, 1)
        return report
    finally:
        server.stop()


def render_requests(plan, calls, scenario, directory):
    """The first request of each kind of call, one file each (<service>.<Operation>[.<label>].json, what
    validate_requests.py reads), and the bucket's text documents under s3/ (label categories, the worker template, the
    manifests). A StartExecution of a machine other than the pipeline is labeled with that machine's name (the waits)."""
    stack = plan.get("stackName", "dinoflow")
    os.makedirs(directory, exist_ok=True)
    written = set()
    for call in calls:
        service, operation = call["call"].split(".")
        label = None
        if operation == "StartExecution":
            started = call["request"].get("stateMachineArn", "").split(":")[-1]
            label = None if started == plan["pipeline"] else started.removeprefix(stack + "-")
        name = f"{service}.{operation}.json" if label is None else f"{service}.{operation}.{label}.json"
        if name in written:
            continue
        written.add(name)
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            json.dump(call["request"], f, indent=2, ensure_ascii=False)
            f.write("\n")
    for key in scenario.keys():
        if key.endswith((".json", ".jsonl", ".html", ".manifest")):
            path = os.path.join(directory, "s3", *key.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(scenario.s3.get_object(Bucket=scenario.bucket, Key=key)["Body"].read())


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    report = run(plan)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
