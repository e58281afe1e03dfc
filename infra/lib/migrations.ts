/**
 * Runs the migrate task before a new image takes traffic, inside the CloudFormation deployment:
 * a custom resource keyed by the image tag and the task definition starts the one-off Fargate
 * task and waits for its exit code. The services depend on it, so CloudFormation updates them
 * only after migrations succeeded, and a failed migration fails (and rolls back) the deploy.
 */
import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge } from './checks.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HANDLER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lambda', 'run-migrations');

export interface MigrationsProps {
  cluster: ecs.ICluster;
  taskDefinition: ecs.FargateTaskDefinition;
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  imageTag: string;
  logRetention: logs.RetentionDays;
}

export class Migrations extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    super(scope, id);
    const code = lambda.Code.fromAsset(HANDLER_DIR);
    // Each function gets its own role that may write only to its own log group (instead of
    // AWSLambdaBasicExecutionRole, which allows every log group of the account).
    const logGroup = (name: string) => new logs.LogGroup(this, `${name}Logs`, { retention: props.logRetention });
    const roleWritingTo = (name: string, group: logs.ILogGroup) => {
      const role = new iam.Role(this, `${name}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      group.grantWrite(role);
      return role;
    };
    const fn = (name: string, handler: string) => {
      const group = logGroup(name);
      return new lambda.Function(this, name, {
        // The image's line (Dockerfile), so the whole deployment runs one Node.js; also the newest
        // Lambda runtime this aws-cdk-lib knows (cdk-nag L1). The handlers use only the runtime's SDK v3.
        runtime: lambda.Runtime.NODEJS_24_X,
        code,
        handler,
        timeout: Duration.seconds(30),
        logGroup: group,
        role: roleWritingTo(name, group),
      });
    };
    const onEvent = fn('OnEvent', 'index.onEvent');
    const isComplete = fn('IsComplete', 'index.isComplete');

    props.taskDefinition.grantRun(onEvent);
    // DescribeTasks on the tasks of this cluster only (a task's id is known only once it runs).
    isComplete.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeTasks'],
        resources: [Stack.of(this).formatArn({ service: 'ecs', resource: 'task', resourceName: `${props.cluster.clusterName}/*` })],
      }),
    );
    acknowledge(
      isComplete.role!,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<${Stack.of(this).getLogicalId(props.cluster.node.defaultChild as ecs.CfnCluster)}>/*]`,
      'ecs:DescribeTasks on the tasks of this cluster: the migration task\'s id exists only once onEvent started it.',
    );

    const frameworkLogs = logGroup('Provider');
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      queryInterval: Duration.seconds(15),
      totalTimeout: Duration.minutes(30),
      logGroup: frameworkLogs,
      // Two roles, as the framework needs them apart (onEvent starts the waiter, which runs the other two).
      frameworkOnEventRole: roleWritingTo('ProviderOnEvent', frameworkLogs),
      frameworkCompleteAndTimeoutRole: roleWritingTo('ProviderWaiter', frameworkLogs),
      // The waiter's every step (not the event data) to CloudWatch: a stuck migration is visible.
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: { destination: logGroup('Waiter'), level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.acknowledgeProviderFramework(provider, onEvent, isComplete);

    this.resource = new CustomResource(this, 'Run', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::OpplyMigrations',
      properties: {
        // A new image tag or task definition revision is an Update: the task runs again.
        ImageTag: props.imageTag,
        TaskDefinitionArn: props.taskDefinition.taskDefinitionArn,
        Cluster: props.cluster.clusterArn,
        Subnets: props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
        SecurityGroups: [props.securityGroup.securityGroupId],
      },
    });
  }

  /** What CDK's provider framework writes into its own roles and state machine. */
  private acknowledgeProviderFramework(provider: cr.Provider, onEvent: lambda.IFunction, isComplete: lambda.IFunction) {
    const stack = Stack.of(this);
    const arnOf = (f: lambda.IFunction) => `<${stack.getLogicalId(f.node.defaultChild as lambda.CfnFunction)}.Arn>:*`;
    const framework = (name: string) => provider.node.findChild(`framework-${name}`) as lambda.Function;
    for (const f of [onEvent, isComplete, framework('isComplete'), framework('onTimeout')]) {
      acknowledge(
        this,
        `AwsSolutions-IAM5[Resource::${arnOf(f)}]`,
        'CDK provider framework: lambda:InvokeFunction on this one function and its versions (the ":*" is the version qualifier).',
      );
    }
    const waiter = provider.node.findChild('waiter-state-machine');
    acknowledge(
      waiter,
      'AwsSolutions-IAM5[Resource::*]',
      'CDK provider framework waiter: Step Functions log delivery (logs:CreateLogDelivery and the like) exists only on "*".',
    );
    acknowledge(
      waiter,
      'AwsSolutions-SF2',
      'The waiter state machine only polls the migration task every 15 s; its steps are logged (SF1), and X-Ray tracing of a poll loop would show nothing more.',
    );
  }
}
