/**
 * Runs the migrate task before a new image takes traffic, inside the CloudFormation deployment:
 * a custom resource keyed by the image tag and the task definition starts the one-off Fargate
 * task and waits for its exit code. The services depend on it, so CloudFormation updates them
 * only after migrations succeeded, and a failed migration fails (and rolls back) the deploy.
 */
import { CustomResource, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
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
    const fn = (name: string, handler: string) =>
      new lambda.Function(this, name, {
        // The image's line (Dockerfile), so the whole deployment runs one Node.js.
        runtime: lambda.Runtime.NODEJS_24_X,
        code,
        handler,
        timeout: Duration.seconds(30),
        logGroup: new logs.LogGroup(this, `${name}Logs`, { retention: props.logRetention }),
      });
    const onEvent = fn('OnEvent', 'index.onEvent');
    const isComplete = fn('IsComplete', 'index.isComplete');

    props.taskDefinition.grantRun(onEvent);
    isComplete.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeTasks'],
        resources: ['*'],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
    );

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      queryInterval: Duration.seconds(15),
      totalTimeout: Duration.minutes(30),
    });

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
}
