/**
 * opply-commerce on AWS: network, data tier, ECS services, migrations, alarms.
 * Environment-agnostic (no account, region or lookups), so `cdk synth` runs offline.
 */
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { Alarms } from './alarms.ts';
import { AuditLogs } from './audit-logs.ts';
import { Compute } from './compute.ts';
import { Data } from './data.ts';
import { Migrations } from './migrations.ts';
import { Network } from './network.ts';
import { RestartOnRotation } from './rotation.ts';
import type { Settings } from './settings.ts';

export interface CommerceStackProps extends StackProps {
  settings: Settings;
}

export class CommerceStack extends Stack {
  readonly network: Network;
  readonly data: Data;
  readonly compute: Compute;
  readonly alarms: Alarms;
  readonly auditLogs: AuditLogs;

  constructor(scope: Construct, id: string, props: CommerceStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const logRetention = retention(settings.logRetentionDays);

    if (settings.imageTag === 'latest') {
      Annotations.of(this).addWarningV2('opply:image-tag', 'No imageTag context given: deploy with -c imageTag=<git sha> (the registry refuses to overwrite tags).');
    }
    if (!settings.sesIdentity && !settings.mailFrom) {
      Annotations.of(this).addWarningV2('opply:mail', 'No sesIdentity or mailFrom context given: MAIL_FROM stays the development default, which SES refuses to send as.');
    }
    if (!settings.corsOrigins) {
      Annotations.of(this).addWarningV2('opply:cors', 'No corsOrigins context given: browsers will be refused by CORS (mobile apps are unaffected).');
    }

    this.auditLogs = new AuditLogs(this, 'AuditLogs', { retentionDays: settings.logRetentionDays });
    this.network = new Network(this, 'Network', {
      logBucket: this.auditLogs.bucket,
      natGateways: settings.natGateways,
      https: settings.certificateArn !== undefined,
      redisKind: settings.ordersMode === 'async' ? 'memorydb' : 'elasticache',
    });
    this.data = new Data(this, 'Data', {
      vpc: this.network.vpc,
      databaseSg: this.network.databaseSg,
      redisSg: this.network.redisSg,
      rotationSg: this.network.rotationSg,
      dbInstanceClass: settings.dbInstanceClass,
      dbBackupRetentionDays: settings.dbBackupRetentionDays,
      deletionProtection: settings.deletionProtection,
      redisNodeType: settings.redisNodeType,
      ordersMode: settings.ordersMode,
      memorydbNodeType: settings.memorydbNodeType,
      memorydbReplicas: settings.memorydbReplicas,
      logRetention,
    });
    this.compute = new Compute(this, 'App', { settings, network: this.network, data: this.data, logRetention, logBucket: this.auditLogs.bucket });
    new RestartOnRotation(this, 'RestartOnRotation', {
      secret: this.data.databaseSecret,
      cluster: this.compute.cluster,
      services: [this.compute.apiService, this.compute.workerService],
      logRetention,
    });

    const migrations = new Migrations(this, 'Migrations', {
      cluster: this.compute.cluster,
      taskDefinition: this.compute.migrateTask,
      vpc: this.network.vpc,
      securityGroup: this.network.workerSg,
      imageTag: settings.imageTag,
      logRetention,
    });
    // Schema first, then code: the task needs the database (and the NAT routes to pull the
    // image); the services roll out the new image only after the migration task exited 0.
    migrations.node.addDependency(this.data.database, this.network.vpc);
    this.compute.apiService.node.addDependency(migrations);
    this.compute.workerService.node.addDependency(migrations);

    this.alarms = new Alarms(this, 'Alarms', {
      alb: this.compute.alb,
      targetGroup: this.compute.targetGroup,
      database: this.data.database,
      redisNodeIds: this.data.redisNodeIds,
      memorydbClusterName: this.data.orderStore?.clusterName,
      dbConnectionsAlarm: settings.dbConnectionsAlarm,
      alarmEmail: settings.alarmEmail,
      workerLogs: this.compute.logGroups.get('worker')!,
    });

    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('LoadBalancerDns', this.compute.alb.loadBalancerDnsName, 'Point the API domain (CNAME/alias) here');
    out('ClusterName', this.compute.cluster.clusterName, 'ECS cluster');
    out('MigrateTaskDefinition', this.compute.migrateTask.taskDefinitionArn, 'One-off: node dist/scripts/migrate.js');
    out('CreateStaffTaskDefinition', this.compute.createStaffTask.taskDefinitionArn, 'One-off: node dist/scripts/create-staff.js');
    out('OneOffSubnets', this.network.vpc.privateSubnets.map((s) => s.subnetId).join(','), 'Subnets for one-off tasks');
    out('OneOffSecurityGroup', this.network.workerSg.securityGroupId, 'Security group for one-off tasks');
    out('DatabaseSecretArn', this.data.databaseSecret.secretArn, 'Aurora credentials');
    out('StaffPasswordSecretArn', this.compute.staffPasswordSecret.secretArn, 'Password of the first staff account');
    out('AuditLogBucket', this.auditLogs.bucket.bucketName, 'Load balancer access logs (alb/) and VPC flow logs (vpc-flow-logs/)');
    out('AlarmTopicArn', this.alarms.topic.topicArn, 'Subscribe on-call here');
    if (this.data.orderStore) {
      out('OrderStoreCluster', this.data.orderStore.clusterName, 'MemoryDB cluster holding accepted orders (ORDERS_MODE=async)');
      out('OrderStorePasswordSecretArn', this.data.orderStore.passwordSecret.secretArn, `Password of the MemoryDB user ${this.data.orderStore.userName}`);
    }
  }
}

function retention(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days)) throw new Error(`logRetentionDays must be one of ${allowed.sort((a, b) => a - b).join(', ')}`);
  return days as logs.RetentionDays;
}
