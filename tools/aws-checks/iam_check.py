"""Least privilege, checked: the IAM policies of the translated template (aws-sam-translator's output, see
check_template.py) resolved to one test stack's concrete ARNs, and evaluated with moto's IAM policy classes.

Used by sfn_engine.py:
- every function role and state machine role becomes a moto IAM user whose only policies are that role's (resolved)
  inline policies; a Lambda handler's S3 calls are signed with its function's user, and moto's S3 authorization
  (INITIAL_NO_AUTH_ACTION_COUNT = 0) decides them;
- every call a state machine's service integration makes is mapped to the IAM actions and resource ARNs AWS checks
  (AWS Service Authorization Reference; the Step Functions and Greengrass developer guides for the actions a service
  performs on the caller's behalf) and evaluated against that machine's role. A call without a mapping is denied, so a
  new integration cannot pass unchecked.

moto evaluates Action and Resource (with * wildcards), but no condition of a user's policy: its request carries no
condition keys, a condition whose key has no value counts as holding, and only StringEquals is implemented. So a
conditional Allow (ListBucket only under s3:prefix batches/*) is, in moto, an unconditional one. `evaluate` therefore
uses moto's statement matching for Action/Resource and evaluates conditions itself, per IAM's rules: a condition that
does not hold makes the statement not apply (Allow or Deny); a key the request lacks fails the condition, except with
...IfExists.
"""

import base64
import fnmatch
import json
import re

PARTITION = "aws"


# ------------------------------------------------------------------ the translated template, resolved

# The AWS managed policies SAM attaches, as AWS publishes them (IAM console, policy version v1).
MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]},
}


class Stack:
    """Concrete values of one test stack: what Ref and GetAtt give for each logical ID.

    Generic by resource type, so resources other engineers add resolve without a change here: a function is
    '<stack>-<LogicalId>', a role 'role/<stack>-<LogicalId>', a state machine its Name (or the plan's name)."""

    def __init__(self, translated, region, account, stack, overrides):
        self.region, self.account, self.stack = region, account, stack
        self.resources = translated.get("Resources", {})
        self.parameters = {k: v.get("Default") for k, v in translated.get("Parameters", {}).items()}
        self.parameters.update(overrides.get("parameters", {}))
        self.refs = dict(overrides.get("refs", {}))
        self.attributes = dict(overrides.get("attributes", {}))
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": PARTITION,
                       "AWS::StackName": stack, "AWS::URLSuffix": "amazonaws.com"}

    def ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.parameters:
            value = self.parameters[name]
            return ",".join(value) if isinstance(value, list) else value
        resource = self.resources.get(name)
        if resource is None:
            raise KeyError(f"!Ref {name}: no such parameter or resource")
        kind = resource["Type"]
        if kind == "AWS::Lambda::Function":
            return f"{self.stack}-{name}"
        if kind == "AWS::IAM::Role":
            return f"{self.stack}-{name}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{self.region}:{self.account}:stateMachine:{self.machine_name(name)}"
        if kind == "AWS::S3::Bucket":
            raise KeyError(f"!Ref {name}: give the test bucket's name in the plan's iam.refs")
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{self.region}:{self.account}:{self.stack}-{name}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.stack}-{name}"
        if kind == "AWS::Logs::LogGroup":
            return f"{self.stack}-{name}"
        raise KeyError(f"!Ref {name}: no test value for a {kind}")

    def machine_name(self, name):
        given = (self.resources[name].get("Properties") or {}).get("Name")
        return self.resolve(given) if given else self.refs.get(name + ".Name", f"{self.stack}-{name}")

    def get_att(self, name, attribute):
        key = f"{name}.{attribute}"
        if key in self.attributes:
            return self.attributes[key]
        resource = self.resources.get(name)
        if resource is None:
            raise KeyError(f"!GetAtt {key}: no such resource")
        kind = resource["Type"]
        if attribute == "Arn":
            if kind == "AWS::Lambda::Function":
                return f"arn:{PARTITION}:lambda:{self.region}:{self.account}:function:{self.ref(name)}"
            if kind == "AWS::IAM::Role":
                return f"arn:{PARTITION}:iam::{self.account}:role/{self.ref(name)}"
            if kind == "AWS::S3::Bucket":
                return f"arn:{PARTITION}:s3:::{self.ref(name)}"
            if kind == "AWS::SQS::Queue":
                return f"arn:{PARTITION}:sqs:{self.region}:{self.account}:{self.stack}-{name}"
            if kind == "AWS::Logs::LogGroup":
                return f"arn:{PARTITION}:logs:{self.region}:{self.account}:log-group:{self.ref(name)}:*"
            if kind == "AWS::StepFunctions::StateMachine":
                return self.ref(name)
        if kind == "AWS::SNS::Topic" and attribute == "TopicName":
            return self.ref(name).split(":")[-1]
        if kind == "AWS::StepFunctions::StateMachine" and attribute == "Name":
            return self.machine_name(name)
        raise KeyError(f"!GetAtt {key}: no test value for a {kind}")

    def resolve(self, value):
        """Fn::Sub, Fn::GetAtt, Ref, Fn::Join, Fn::Split, Fn::Select, Fn::If (conditions are not evaluated: refused)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(name, attribute)
            if function == "Fn::Sub":
                text, names = (argument, {}) if isinstance(argument, str) else (argument[0], self.resolve(argument[1]))

                def sub(match):
                    token = match.group(1)
                    if token.startswith("!"):
                        return "${" + token[1:] + "}"
                    if token in names:
                        return str(names[token])
                    if "." in token and not token.startswith("AWS::"):
                        return str(self.get_att(*token.split(".", 1)))
                    return str(self.ref(token))

                return re.sub(r"\$\{([^}]+)\}", sub, text)
            if function == "Fn::Join":
                return argument[0].join(str(v) for v in self.resolve(argument[1]))
            if function == "Fn::Split":
                return self.resolve(argument[1]).split(argument[0])
            if function == "Fn::Select":
                return self.resolve(argument[1])[int(self.resolve(argument[0]))]
            if function == "Fn::If":
                raise ValueError(f"Fn::If in an IAM policy is not resolved by the check: {value}")
        return {k: self.resolve(v) for k, v in value.items()}

    def roles(self):
        """{role logical ID: [resolved inline policy documents]} for every AWS::IAM::Role."""
        roles = {}
        for name, resource in self.resources.items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            properties = resource.get("Properties") or {}
            managed = []
            for arn in self.resolve(properties.get("ManagedPolicyArns", [])):
                if arn not in MANAGED:
                    raise ValueError(f"{name} attaches the managed policy {arn}, whose document the check does not hold")
                managed.append(MANAGED[arn])
            roles[name] = [self.resolve(p["PolicyDocument"]) for p in properties.get("Policies", [])] + managed
        return roles

    def role_of(self, kind):
        """{logical ID of each resource of this type: logical ID of its role}."""
        found = {}
        for name, resource in self.resources.items():
            if resource["Type"] != kind:
                continue
            role = (resource.get("Properties") or {}).get("RoleArn" if kind == "AWS::StepFunctions::StateMachine" else "Role")
            if isinstance(role, dict) and "Fn::GetAtt" in role:
                target = role["Fn::GetAtt"]
                found[name] = target[0] if isinstance(target, list) else target.split(".")[0]
            else:
                raise ValueError(f"{name}: role {role} is not a role of this stack")
        return found


# ------------------------------------------------------------------ evaluation

# IAM's condition operators the policies here use (moto 5.2 evaluates StringEquals only, and only for trust policies).
OPERATORS = {
    "StringEquals": lambda e, a: a == e,
    "StringNotEquals": lambda e, a: a != e,
    "StringEqualsIgnoreCase": lambda e, a: a.lower() == e.lower(),
    "StringLike": lambda e, a: fnmatch.fnmatchcase(a, e),
    "StringNotLike": lambda e, a: not fnmatch.fnmatchcase(a, e),
    "ArnEquals": lambda e, a: a == e,
    "ArnLike": lambda e, a: fnmatch.fnmatchcase(a, e),
    "ArnNotLike": lambda e, a: not fnmatch.fnmatchcase(a, e),
    "Bool": lambda e, a: a.lower() == e.lower(),
}
NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotLike"}


def _condition_holds(operator, key, expected, context):
    if_exists = operator.endswith("IfExists")
    base = operator[:-len("IfExists")] if if_exists else operator
    qualifier, _, base = base.rpartition(":")
    if base == "Null":
        return (key not in context) == (str(expected).lower() == "true")
    if base not in OPERATORS:
        raise ValueError(f"condition operator {operator} is not evaluated by this check: add it to iam_check.OPERATORS")
    if key not in context:
        # IAM: a key the request does not have fails the condition, unless ...IfExists (or ForAllValues).
        return if_exists or qualifier == "ForAllValues"
    actual = context[key] if isinstance(context[key], list) else [context[key]]
    expected = expected if isinstance(expected, list) else [expected]
    test = OPERATORS[base]
    # A negated operator holds when the value matches none of the expected values.
    matches = [(all if base in NEGATED else any)(test(str(e), str(a)) for e in expected) for a in actual]
    return all(matches) if qualifier == "ForAllValues" else any(matches)


def _statement_applies(statement, action, resource, context):
    from moto.iam.access_control import IAMPolicyStatement

    matcher = IAMPolicyStatement(statement)
    element = "NotAction" if "NotAction" in statement else "Action"
    matched = matcher._check_element_matches(element, action)
    if matched == (element == "NotAction"):
        return False
    if "Resource" in statement and not matcher._check_element_matches("Resource", resource):
        return False
    if "NotResource" in statement and matcher._check_element_matches("NotResource", resource):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def evaluate(policies, action, resource, context=None):
    """'allowed', 'denied' (an explicit Deny) or 'not allowed' (no Allow applies), over resolved policy documents."""
    allowed = False
    for policy in policies:
        statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
        for statement in statements:
            if _statement_applies(statement, action, resource, context or {}):
                if statement["Effect"] == "Deny":
                    return "denied"
                allowed = True
    return "allowed" if allowed else "not allowed"


# ------------------------------------------------------------------ what each call needs

def _arn(service, region, account, resource):
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _lambda_arn(name, region, account):
    return name if name.startswith("arn:") else _arn("lambda", region, account, f"function:{name}")


def _pass_role(role_arn, service):
    return ("iam:PassRole", role_arn, {"iam:PassedToService": f"{service}.amazonaws.com"})


def _recipe(recipe):
    """An inline recipe as a document: JSON text, possibly base64 (the API's blob) or JSON-quoted. YAML is refused."""
    for _ in range(3):
        if isinstance(recipe, (bytes, bytearray)):
            recipe = recipe.decode()
        if isinstance(recipe, dict):
            return recipe
        try:
            recipe = json.loads(recipe)
            continue
        except ValueError:
            recipe = base64.b64decode(recipe)
    raise ValueError(f"the check reads JSON recipes only: {str(recipe)[:200]}")


def _sagemaker_job(kind, name_field, region, account, creates=False):
    def needs(params):
        # SageMaker ARNs carry the job name in lower case.
        arn = _arn("sagemaker", region, account, f"{kind}/{params[name_field].lower()}")
        calls = []
        if creates:
            calls.append(_pass_role(params["RoleArn"], "sagemaker"))
        if creates and params.get("Tags"):
            calls.append(("sagemaker:AddTags", arn, {}))
        return arn, calls

    return needs


def required(service, operation, params, region, account):
    """[(action, resource ARN, condition context)] that AWS authorizes for this API call; KeyError when unknown."""
    r, a = region, account
    if service == "lambda" and operation == "Invoke":
        return [("lambda:InvokeFunction", _lambda_arn(params["FunctionName"], r, a), {})]
    if service == "stepfunctions":
        if operation == "StartExecution":
            return [("states:StartExecution", params["stateMachineArn"], {})]
        if operation in ("DescribeExecution", "StopExecution"):
            return [(f"states:{operation}", params["executionArn"], {})]
    if service == "sns" and operation == "Publish":
        return [("sns:Publish", params.get("TopicArn") or params["TargetArn"], {})]
    if service == "sagemaker":
        jobs = {"LabelingJob": ("labeling-job", "LabelingJobName"), "TrainingJob": ("training-job", "TrainingJobName"),
                "CompilationJob": ("compilation-job", "CompilationJobName")}
        for job, (kind, field) in jobs.items():
            if operation in (f"Create{job}", f"Describe{job}", f"Stop{job}"):
                arn, extra = _sagemaker_job(kind, field, r, a, creates=operation.startswith("Create"))(params)
                return [(f"sagemaker:{operation}", arn, {})] + extra
    if service == "greengrassv2":
        if operation == "CreateComponentVersion":
            recipe = _recipe(params["inlineRecipe"])
            arn = _arn("greengrass", r, a, f"components:{recipe['ComponentName']}")
            calls = [("greengrass:CreateComponentVersion", arn, {})]
            # Greengrass reads each S3 artifact with the caller's permissions to compute its digest (developer guide,
            # "Upload components to deploy to your core devices").
            for manifest in recipe.get("Manifests", []):
                for artifact in manifest.get("Artifacts", []):
                    if artifact["URI"].startswith("s3://"):
                        calls.append(("s3:GetObject", f"arn:{PARTITION}:s3:::{artifact['URI'][len('s3://'):]}", {}))
            return calls + ([("greengrass:TagResource", arn, {})] if params.get("tags") else [])
        if operation == "CreateDeployment":
            target = params["targetArn"]
            # The job's ID is chosen by Greengrass: any job ARN of the account stands for it.
            job = _arn("iot", r, a, "job/*")
            things = _arn("iot", r, a, "thing/*")
            # greengrass:CreateDeployment has no resource type in the Service Authorization Reference; the IoT actions
            # are those the Greengrass V2 developer guide lists for a deployment ("Authorize a user to create deployments").
            calls = [("greengrass:CreateDeployment", "*", {}), ("iot:CreateJob", target, {}), ("iot:CreateJob", job, {}),
                     ("iot:DescribeThingGroup", target, {}), ("iot:DescribeJob", job, {}), ("iot:CancelJob", job, {}),
                     ("iot:UpdateJob", job, {}), ("iot:DescribeThing", things, {}), ("iot:GetThingShadow", things, {}),
                     ("iot:UpdateThingShadow", things, {}), ("iot:DeleteThingShadow", things, {})]
            # The new deployment's ID is chosen by Greengrass: any deployment ARN stands for the one it tags.
            tagged = _arn("greengrass", r, a, "deployments:*")
            return calls + ([("greengrass:TagResource", tagged, {})] if params.get("tags") else [])
        if operation == "ListDeployments":
            return [("greengrass:ListDeployments", "*", {})]
        if operation == "GetDeployment":
            deployment = params["deploymentId"]
            # moto's JSONPath gives a one-element list for "$.groupDeployment.latest[0].DeploymentId" (AWS: a string),
            # which its serializer then sends as the text '["…"]'.
            if isinstance(deployment, str) and deployment.startswith("["):
                deployment = json.loads(deployment)
            deployment = deployment[0] if isinstance(deployment, list) and len(deployment) == 1 else deployment
            return [("greengrass:GetDeployment", _arn("greengrass", r, a, f"deployments:{deployment}"), {})]
    if service == "iot" and operation == "DescribeJob":
        return [("iot:DescribeJob", _arn("iot", r, a, f"job/{params['jobId']}"), {})]
    if service == "iot" and operation == "ListJobExecutionsForJob":
        return [("iot:ListJobExecutionsForJob", _arn("iot", r, a, f"job/{params['jobId']}"), {})]
    if service == "iot" and operation == "ListThingsInThingGroup":
        return [("iot:ListThingsInThingGroup", _arn("iot", r, a, f"thinggroup/{params['thingGroupName']}"), {})]
    if service == "s3":
        bucket = params.get("Bucket")
        if operation in ("GetObject", "HeadObject"):
            return [("s3:GetObject", f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}", {})]
        if operation in ("PutObject", "CopyObject"):
            return [("s3:PutObject", f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}", {})]
        if operation in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", f"arn:{PARTITION}:s3:::{bucket}", {"s3:prefix": params.get("Prefix", "")})]
    raise KeyError(f"{service}.{operation}")


# Permissions an integration pattern needs beyond its API calls (Step Functions developer guide, "IAM policies for
# integrated services"): a .sync child execution is followed through an EventBridge managed rule.
def pattern_needs(resource, region, account, parameters=None):
    if resource.startswith("arn:aws:states:::states:startExecution.sync"):
        rule = _arn("events", region, account, "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")
        needs = [(f"events:{action}", rule, {}) for action in ("PutTargets", "PutRule", "DescribeRule")]
        machine = (parameters or {}).get("StateMachineArn")
        if isinstance(machine, str) and ":stateMachine:" in machine:
            # The child's executions, named at run time: followed and, when the parent stops, stopped.
            executions = machine.replace(":stateMachine:", ":execution:") + ":*"
            needs += [("states:DescribeExecution", executions, {}), ("states:StopExecution", executions, {})]
        return needs
    return []


TASK = re.compile(r"^arn:aws:states:::(?:aws-sdk:)?(?P<service>[a-zA-Z0-9]+):(?P<action>[a-zA-Z0-9]+)(?:\.(?:sync(?::2)?|waitForTaskToken))?$")

SERVICES = {"states": "stepfunctions", "sfn": "stepfunctions", "lambda": "lambda", "sns": "sns", "sagemaker": "sagemaker",
            "greengrassv2": "greengrassv2", "iot": "iot", "s3": "s3"}


def task_states(definition):
    """(state name, Resource, Parameters) of every Task, including those in Parallel branches and Map processors."""
    found = []

    def walk(states):
        for name, state in states.items():
            if state.get("Type") == "Task":
                found.append((name, state["Resource"], state.get("Parameters") or state.get("Arguments") or {}))
            for branch in state.get("Branches", []):
                walk(branch["States"])
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    walk(state[key]["States"])

    walk(definition["States"])
    return found


def task_call(resource):
    """(botocore service, PascalCase operation) a Task's Resource calls; KeyError when the check has no mapping."""
    if resource.startswith("arn:aws:lambda:") or resource == "arn:aws:states:::lambda:invoke":
        return "lambda", "Invoke"
    match = TASK.match(resource)
    if not match or match.group("service") not in SERVICES:
        raise KeyError(resource)
    action = match.group("action")
    return SERVICES[match.group("service")], action[0].upper() + action[1:]


# (botocore service, operation) pairs `required` maps; a Task calling anything else fails the static check.
MAPPED = {("lambda", "Invoke"), ("stepfunctions", "StartExecution"), ("stepfunctions", "DescribeExecution"),
          ("stepfunctions", "StopExecution"), ("sns", "Publish"), ("greengrassv2", "CreateComponentVersion"),
          ("greengrassv2", "CreateDeployment"), ("greengrassv2", "ListDeployments"), ("greengrassv2", "GetDeployment"),
          ("iot", "DescribeJob"), ("iot", "ListJobExecutionsForJob"), ("iot", "ListThingsInThingGroup"), ("s3", "GetObject"), ("s3", "HeadObject"), ("s3", "PutObject"), ("s3", "CopyObject"),
          ("s3", "ListObjectsV2"), ("s3", "ListObjects")} | {
    ("sagemaker", f"{verb}{job}") for verb in ("Create", "Describe", "Stop") for job in ("LabelingJob", "TrainingJob", "CompilationJob")}


# ------------------------------------------------------------------ enforcement inside the engine

ADMIN = "engine-admin"


def _document(policy):
    from urllib.parse import unquote

    text = policy["policy_document"] if isinstance(policy, dict) else policy
    if isinstance(text, dict):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


class Enforcer:
    """Makes one moto IAM user per role of the translated template, signs each Lambda handler's S3 calls with its
    function's user, and checks every state machine integration call against its machine's role."""

    def __init__(self, plan, translated, region, account, lock):
        iam = plan["iam"]
        self.region, self.account, self.lock = region, account, lock
        # Engine machine names (the plan's) for the state machines the template does not name.
        refs = dict(iam.get("refs", {}))
        self.machine_resources = {}
        for name, machine in plan["machines"].items():
            if "resource" not in machine:
                raise ValueError(f"the plan's machine {name} needs 'resource': its logical ID in template.yaml, whose role it runs under")
            self.machine_resources[name] = machine["resource"]
            refs.setdefault(machine["resource"] + ".Name", name)
        self.stack = Stack(translated, region, account, plan.get("stackName", "dinoflow"),
                           {"refs": refs, "attributes": iam.get("attributes", {}), "parameters": iam.get("parameters", {})})
        self.roles = self.stack.roles()
        self.removed = []
        for removal in iam.get("remove", []):
            self.removed += self._remove(removal["role"], removal["action"], removal.get("resource"))
        self.function_roles = self.stack.role_of("AWS::Lambda::Function")
        self.machine_roles = self.stack.role_of("AWS::StepFunctions::StateMachine")
        self.definitions = {name: json.loads(m["definition"]) for name, m in plan["machines"].items()}
        # Every state machine of the template too, whether a scenario runs it or not.
        for name, resource in self.stack.resources.items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                self.definitions["template:" + name] = self._template_definition(resource["Properties"])
        self.keys = {}
        self.counts = {}

    def _remove(self, role, action, resource=None):
        """Deletes the role's statements that name the action (and the resource, if given): the proof that the check
        can fail."""
        def listed(value):
            return value if isinstance(value, list) else [value]

        removed = []
        for policy in self.roles[role]:
            kept = []
            for statement in listed(policy["Statement"]):
                named = action in listed(statement.get("Action", [])) and (resource is None or resource in listed(statement.get("Resource", [])))
                (removed if named else kept).append(statement)
            policy["Statement"] = kept
        if not removed:
            raise ValueError(f"{role} has no statement granting {action} on {resource or 'any resource'}")
        return [{"role": role, "statement": s} for s in removed]

    def _template_definition(self, properties):
        """The translated definition with its DefinitionSubstitutions resolved to this stack."""
        definition = properties.get("Definition") or json.loads(self.stack.resolve(properties["DefinitionString"]))
        text = json.dumps(definition)
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(self.stack.resolve(value)).replace('"', '\\"'))
        return json.loads(text)

    def create_users(self, endpoint):
        """Before enforcement starts: the users, their inline policies and keys; the engine's own clients ('ak')
        become an administrator, so only the functions' and the machines' calls are restricted."""
        import boto3
        from moto.iam.models import iam_backends

        iam = boto3.client("iam", endpoint_url=endpoint, region_name=self.region, aws_access_key_id="ak", aws_secret_access_key="sk")
        for role, policies in self.roles.items():
            iam.create_user(UserName=role)
            for i, policy in enumerate(p for p in policies if p["Statement"]):
                # IAM takes a document without Version as 2008-10-17 (no policy variables; none is used here); moto
                # refuses it, so the engine's copy names the current version.
                document = {"Version": "2012-10-17", **policy} if "Version" not in policy else policy
                iam.put_user_policy(UserName=role, PolicyName=f"{role}-{i}", PolicyDocument=json.dumps(document))
            key = iam.create_access_key(UserName=role)["AccessKey"]
            self.keys[role] = (key["AccessKeyId"], key["SecretAccessKey"])
        iam.create_user(UserName=ADMIN)
        iam.put_user_policy(UserName=ADMIN, PolicyName="engine", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        iam.create_access_key(UserName=ADMIN)
        admin = iam_backends[self.account][PARTITION].get_user(ADMIN).access_keys[0]
        admin.access_key_id, admin.secret_access_key = "ak", "sk"

    def start(self):
        from moto import settings

        self._patch_s3()
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    def function_key(self, function):
        return self.keys[self.function_roles[function]]

    def _record(self, principal, action, resource, decision, call=None):
        key = (principal, action, resource, decision, call)
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def report(self):
        checks = [{"principal": p, "action": a, "resource": r, "decision": d, "call": c, "count": n}
                  for (p, a, r, d, c), n in sorted(self.counts.items(), key=lambda kv: tuple(str(x) for x in kv[0]))]
        return {"checks": checks, "tasks": self.static_tasks(), "removed": self.removed,
                "roles": {"functions": self.function_roles, "machines": self.machine_roles}}

    def _patch_s3(self):
        from urllib.parse import parse_qs, urlparse

        from moto.iam.access_control import IAMRequestBase, S3IAMRequest

        enforcer = self
        original = S3IAMRequest.check_action_permitted

        def check_signature(self):
            # Not checked: moto recomputes SigV4 over the URL as its web server decoded it, so a correctly signed
            # request with an encoded character in its query (the SDKs' prefix=batches%2Fpending%2F) or an ARN in its
            # path (Lambda Invoke) never matches. Which user signed is still known from the access key, which moto
            # checks exists (InvalidAccessKeyId otherwise).
            pass

        IAMRequestBase.check_signature = check_signature

        def check_action_permitted(self, resource):
            user = self._access_key._owner_user_name
            if user == ADMIN:
                return original(self, resource)
            # moto's own check evaluates no condition key of the request (and denies a conditional Allow), so the
            # policies moto holds for this user are evaluated here with the request's s3:prefix.
            context = {}
            if self._action == "s3:ListBucket":
                query = parse_qs(urlparse(self._path).query, keep_blank_values=True)
                if "prefix" in query:
                    context["s3:prefix"] = query["prefix"][0]
            decision = evaluate([_document(p) for p in self._access_key.collect_policies()], self._action, resource, context)
            shown = resource + (f" (s3:prefix={context['s3:prefix']})" if "s3:prefix" in context else "")
            enforcer._record(user, self._action, shown, decision)
            if decision != "allowed":
                self._raise_access_denied()

        S3IAMRequest.check_action_permitted = check_action_permitted

    # -------------------------------------------------------------- the state machines' calls

    def machine_role(self, machine):
        if machine.startswith("template:"):
            return self.machine_roles[machine[len("template:"):]]
        return self.machine_roles[self.machine_resources[machine.split("-redrive-")[0]]]

    def authorize(self, machine, service, operation, params):
        """Raises AccessDeniedException (as AWS answers) unless the machine's role allows every action of the call."""
        from botocore.exceptions import ClientError

        def denied(message):
            # As AWS answers an unauthorized call: 400 AccessDeniedException.
            return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message},
                                "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "iam-check"}}, operation)

        if machine is None:
            raise RuntimeError(f"{service}.{operation} was called outside a Task state: no role to check it against")
        role = self.machine_role(machine)
        call = f"{service}.{operation}"
        try:
            needs = required(service, operation, params, self.region, self.account)
        except KeyError:
            self._record(role, call, "-", "unmapped", call)
            raise denied(f"the IAM check has no mapping for {call}: add it to iam_check.required")
        for action, resource, context in needs:
            decision = evaluate(self.roles[role], action, resource, context)
            self._record(role, action, resource, decision, call)
            if decision != "allowed":
                raise denied(f"User: arn:aws:sts::{self.account}:assumed-role/{role}/states is not authorized to perform: {action} on resource: {resource}")

    def static_tasks(self):
        """Every Task of every definition: is its integration mapped, and does the role allow what its pattern needs."""
        found = []
        for machine, definition in self.definitions.items():
            role = self.machine_role(machine)
            for state, resource, parameters in task_states(definition):
                try:
                    service, operation = task_call(resource)
                    mapped = (service, operation) in MAPPED
                except KeyError:
                    service, operation, mapped = None, None, False
                needs = pattern_needs(resource, self.region, self.account, parameters)
                if resource.startswith("arn:aws:lambda:"):
                    # The function is known without running the state: a Task no scenario reaches is checked too.
                    needs += required("lambda", "Invoke", {"FunctionName": resource}, self.region, self.account)
                extra = [{"action": a, "resource": r, "decision": evaluate(self.roles[role], a, r, c)} for a, r, c in needs]
                found.append({"machine": machine, "role": role, "state": state, "resource": resource,
                              "call": f"{service}.{operation}" if service else None, "mapped": mapped, "needs": extra})
        return found


def current_machine_tracker():
    """The state machine whose Task is running in this thread: each ExecutionState's _eval_execution (run in its own
    thread by the interpreter's timeout handling) records its execution's machine; the clients it makes read it."""
    import threading

    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

    local = threading.local()

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    def wrap(method):
        def _eval_execution(self, env):
            previous = getattr(local, "machine", None)
            local.machine = env.states.context_object.context_object_data["StateMachine"]["Name"]
            try:
                return method(self, env)
            finally:
                local.machine = previous

        return _eval_execution

    for cls in [ExecutionState, *subclasses(ExecutionState)]:
        if "_eval_execution" in cls.__dict__:
            cls._eval_execution = wrap(cls.__dict__["_eval_execution"])
    return lambda: getattr(local, "machine", None)


def main(argv):
    """iam_check.py CASES.json OUT.json: the decision of `evaluate` for each {policies, action, resource, context}."""
    import sys

    try:
        import moto  # noqa: F401
    except ImportError as missing:
        print(f"python3 lacks moto ({missing}): pip install 'moto[server]>=5.1'", file=sys.stderr)
        return 3
    if len(argv) != 3:
        print(main.__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    decisions = [evaluate(c["policies"], c["action"], c["resource"], c.get("context")) for c in cases]
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(decisions, f)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv))
