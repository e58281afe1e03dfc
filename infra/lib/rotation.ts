/**
 * Restarts the services after the database password was rotated. ECS reads a secret into a
 * container only when the task starts; the app opens new connections all the time (its pool
 * closes idle ones after 30 s, and a failover reconnects everything), so tasks left running
 * with the old password would start failing. Secrets Manager reports RotationSucceeded as a
 * CloudTrail service event, which EventBridge delivers without a trail; the rule starts a small
 * function that forces a new (rolling) deployment of the api and worker services.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HANDLER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lambda', 'restart-services');

export interface RestartOnRotationProps {
  secret: secretsmanager.ISecret;
  cluster: ecs.ICluster;
  services: ecs.FargateService[];
  logRetention: logs.RetentionDays;
}

export class RestartOnRotation extends Construct {
  readonly rule: events.Rule;
  readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: RestartOnRotationProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    // Its own role: writes to its own log group and restarts these services, nothing else.
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ecs:UpdateService'], resources: props.services.map((s) => s.serviceArn) }));

    this.function = new lambda.Function(this, 'Function', {
      runtime: lambda.Runtime.NODEJS_24_X,
      code: lambda.Code.fromAsset(HANDLER_DIR),
      handler: 'index.handler',
      timeout: Duration.seconds(30),
      logGroup,
      role,
      environment: { CLUSTER: props.cluster.clusterArn, SERVICES: props.services.map((s) => s.serviceName).join(',') },
    });

    this.rule = new events.Rule(this, 'RotationSucceeded', {
      description: `${Stack.of(this).stackName}: restart the services after the database password was rotated`,
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationSucceeded'],
          additionalEventData: { SecretId: [props.secret.secretArn] },
        },
      },
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 4, maxEventAge: Duration.hours(1) })],
    });
  }
}
