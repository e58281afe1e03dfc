/**
 * Assertions on the synthesized CloudFormation template: what must hold for the stack to be safe
 * to deploy (nothing public but the load balancer, everything encrypted, no secret in plain
 * environment) and what operations rely on (alarms, the migration step before the rollout).
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommerceStack } from '../lib/commerce-stack.ts';
import { settingsFromContext } from '../lib/settings.ts';

type Resource = { Type: string; Properties?: Record<string, any>; DependsOn?: string[] };

const featureFlags = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')).context;

function synth(context: Record<string, string> = {}): Template {
  const app = new App({ context: { ...featureFlags, imageTag: 'abc1234', corsOrigins: 'https://shop.example.com', mailFrom: 'no-reply@shop.example.com', ...context } });
  const stack = new CommerceStack(app, 'Test', { settings: settingsFromContext(app.node) });
  return Template.fromStack(stack);
}

function resources(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.findResources(type)) as Array<[string, Resource]>;
}

const plain = synth();
const tls = synth({ certificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/test', alarmEmail: 'oncall@example.com', deletionProtection: 'false' });

describe('data tier', () => {
  it('Aurora: encrypted, private, in the isolated subnets, backed up for 7+ days, deletion protected by default', () => {
    plain.hasResourceProperties('AWS::RDS::DBCluster', {
      StorageEncrypted: true,
      BackupRetentionPeriod: Match.anyValue(),
      DeletionProtection: true,
      Engine: 'aurora-postgresql',
    });
    const [[, cluster]] = resources(plain, 'AWS::RDS::DBCluster') as [[string, Resource]];
    assert.ok(cluster.Properties!.BackupRetentionPeriod >= 7);
    const instances = resources(plain, 'AWS::RDS::DBInstance');
    assert.equal(instances.length, 2, 'a writer and one reader');
    for (const [, instance] of instances) assert.equal(instance.Properties!.PubliclyAccessible, false);
    const [[, subnetGroup]] = resources(plain, 'AWS::RDS::DBSubnetGroup') as [[string, Resource]];
    assertIsolatedSubnets(subnetGroup.Properties!.SubnetIds);
    plain.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
  });

  it('Aurora: IAM database authentication is on (the app keeps its password, which keeps working)', () => {
    plain.hasResourceProperties('AWS::RDS::DBCluster', { EnableIAMDatabaseAuthentication: true });
  });

  it('Aurora: the password rotates every 30 days with the hosted PostgreSQL rotation, from the app subnets, not on deploy', () => {
    const [[attachmentId]] = resources(plain, 'AWS::SecretsManager::SecretTargetAttachment') as [[string, Resource]];
    const schedules = resources(plain, 'AWS::SecretsManager::RotationSchedule');
    assert.equal(schedules.length, 1, 'only the database password rotates on a schedule');
    const schedule = schedules[0]![1].Properties!;
    assert.deepEqual(schedule.SecretId, { Ref: attachmentId });
    assert.deepEqual(schedule.RotationRules, { ScheduleExpression: 'rate(30 days)' });
    assert.equal(schedule.RotateImmediatelyOnUpdate, false);
    assert.equal(schedule.HostedRotationLambda.RotationType, 'PostgreSQLSingleUser');
    assert.match(JSON.stringify(schedule.HostedRotationLambda.VpcSubnetIds), /appSubnet1.*appSubnet2/);
    assert.match(JSON.stringify(schedule.HostedRotationLambda.VpcSecurityGroupIds), /RotationSg/);
    assert.match(JSON.stringify(plain.toJSON().Transform), /AWS::SecretsManager-/);
  });

  it('Aurora: after a rotation the api and worker services are restarted, so no task keeps the old password', () => {
    const [[attachmentId]] = resources(plain, 'AWS::SecretsManager::SecretTargetAttachment') as [[string, Resource]];
    const [[, rule]] = resources(plain, 'AWS::Events::Rule') as [[string, Resource]];
    assert.deepEqual(rule.Properties!.EventPattern, {
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS Service Event via CloudTrail'],
      detail: { eventSource: ['secretsmanager.amazonaws.com'], eventName: ['RotationSucceeded'], additionalEventData: { SecretId: [{ Ref: attachmentId }] } },
    });
    const functionId = rule.Properties!.Targets[0].Arn['Fn::GetAtt'][0];
    const fn = plain.toJSON().Resources[functionId];
    assert.equal(fn.Properties.Runtime, 'nodejs24.x');
    const services = resources(plain, 'AWS::ECS::Service').map(([id]) => id).sort();
    assert.deepEqual(
      (fn.Properties.Environment.Variables.SERVICES['Fn::Join'][1] as Array<{ 'Fn::GetAtt': [string, string] }>).filter((p) => typeof p !== 'string').map((p) => p['Fn::GetAtt'][0]).sort(),
      services,
    );
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const statements = resources(plain, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties!.Roles).includes(roleId))
      .flatMap(([, p]) => p.Properties!.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    const update = statements.find((st) => st.Action === 'ecs:UpdateService')!;
    assert.deepEqual((update.Resource as Array<{ Ref: string }>).map((r) => r.Ref).sort(), services, 'UpdateService on these two services only');
  });

  it('Aurora: deletion protection follows the context', () => {
    tls.hasResourceProperties('AWS::RDS::DBCluster', { DeletionProtection: false });
  });

  it('Redis: multi-AZ with failover, encrypted in transit and at rest, AUTH token by dynamic reference, isolated subnets', () => {
    plain.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'redis',
      NumCacheClusters: 2,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
    });
    const [[, group]] = resources(plain, 'AWS::ElastiCache::ReplicationGroup') as [[string, Resource]];
    assert.match(JSON.stringify(group.Properties!.AuthToken), /\{\{resolve:secretsmanager:/);
    const [[, subnetGroup]] = resources(plain, 'AWS::ElastiCache::SubnetGroup') as [[string, Resource]];
    assertIsolatedSubnets(subnetGroup.Properties!.SubnetIds);
    plain.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { Properties: { 'maxmemory-policy': 'noeviction' } });
  });
});

describe('flash-sale mode (context ordersMode=async): Amazon MemoryDB as the durable order store', () => {
  const flash = synth({ ordersMode: 'async', memorydbReplicas: '2' });
  const env = (template: Template, name: string) => {
    const container = resources(template, 'AWS::ECS::TaskDefinition')
      .flatMap(([, task]) => task.Properties!.ContainerDefinitions as any[])
      .find((c) => c.Name === name);
    return Object.fromEntries((container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
  };
  const secret = (template: Template, name: string, variable: string) => {
    const container = resources(template, 'AWS::ECS::TaskDefinition')
      .flatMap(([, task]) => task.Properties!.ContainerDefinitions as any[])
      .find((c) => c.Name === name);
    return JSON.stringify(container.Secrets.find((s: { Name: string }) => s.Name === variable).ValueFrom);
  };

  it('is off by default: ElastiCache, no MemoryDB, ORDERS_MODE=sync', () => {
    assert.equal(resources(plain, 'AWS::MemoryDB::Cluster').length, 0);
    assert.equal(resources(plain, 'AWS::ElastiCache::ReplicationGroup').length, 1);
    for (const name of ['api', 'worker']) {
      assert.equal(env(plain, name).ORDERS_MODE, 'sync');
      assert.ok(!('REDIS_DURABILITY' in env(plain, name)));
      assert.ok(!('REDIS_CLUSTER' in env(plain, name)));
    }
  });

  it('replaces ElastiCache with one MemoryDB cluster: multi-AZ replicas, TLS, noeviction, snapshots', () => {
    assert.equal(resources(flash, 'AWS::ElastiCache::ReplicationGroup').length, 0);
    assert.equal(resources(flash, 'AWS::MemoryDB::Cluster').length, 1);
    flash.hasResourceProperties('AWS::MemoryDB::Cluster', {
      TLSEnabled: true,
      NumShards: 1,
      NumReplicasPerShard: 2,
      NodeType: 'db.t4g.small',
      Port: 6379,
      SnapshotRetentionLimit: Match.anyValue(),
    });
    flash.hasResourceProperties('AWS::MemoryDB::ParameterGroup', { Family: 'memorydb_redis7', Parameters: { 'maxmemory-policy': 'noeviction' } });
    assert.throws(() => synth({ ordersMode: 'async', memorydbReplicas: '0' }), /memorydbReplicas must be an integer in \[1, 5\]/);
    assert.throws(() => synth({ ordersMode: 'queue' }), /ordersMode must be one of sync, async/);
  });

  it('signs the app in as an ACL user whose generated password is a dynamic reference, never in the template', () => {
    const [[, user]] = resources(flash, 'AWS::MemoryDB::User') as [[string, Resource]];
    assert.equal(user.Properties!.AuthenticationMode.Type, 'password');
    assert.match(JSON.stringify(user.Properties!.AuthenticationMode.Passwords), /\{\{resolve:secretsmanager:/);
    const [[, acl]] = resources(flash, 'AWS::MemoryDB::ACL') as [[string, Resource]];
    assert.deepEqual(acl.Properties!.UserNames, [user.Properties!.UserName]);
    const [[, cluster]] = resources(flash, 'AWS::MemoryDB::Cluster') as [[string, Resource]];
    assert.equal(cluster.Properties!.ACLName, acl.Properties!.ACLName);
  });

  it('lives in the isolated subnets behind the Redis group, open to the api and worker tasks only', () => {
    const [[, subnetGroup]] = resources(flash, 'AWS::MemoryDB::SubnetGroup') as [[string, Resource]];
    assertIsolatedSubnets(subnetGroup.Properties!.SubnetIds);
    const [[, cluster]] = resources(flash, 'AWS::MemoryDB::Cluster') as [[string, Resource]];
    const groups = cluster.Properties!.SecurityGroupIds as Array<{ 'Fn::GetAtt': [string, string] }>;
    assert.equal(groups.length, 1);
    const groupId = groups[0]!['Fn::GetAtt'][0];
    assert.match(groupId, /RedisSg/);
    const rules = resources(flash, 'AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties!)
      .filter((r) => JSON.stringify(r.GroupId).includes(groupId));
    assert.equal(rules.length, 2);
    for (const rule of rules) {
      assert.equal(rule.FromPort, 6379);
      assert.match(JSON.stringify(rule.SourceSecurityGroupId), /ApiSg|WorkerSg/);
    }
    assert.deepEqual(openIngress(flash).map((r) => r.port), [80]);
  });

  it('runs api and worker in async mode on it: the MemoryDB endpoint, its user and password, REDIS_DURABILITY=memorydb', () => {
    const [[clusterId]] = resources(flash, 'AWS::MemoryDB::Cluster') as [[string, Resource]];
    const [[userId, user]] = resources(flash, 'AWS::MemoryDB::User') as [[string, Resource]];
    const passwordSecretId = Object.keys(flash.findResources('AWS::SecretsManager::Secret')).find((id) => id.includes('OrderStorePassword'))!;
    assert.ok(passwordSecretId, userId);
    for (const name of ['api', 'worker', 'migrate', 'create-staff']) {
      const e = env(flash, name);
      assert.deepEqual(e.REDIS_HOST, { 'Fn::GetAtt': [clusterId, 'ClusterEndpoint.Address'] }, name);
      assert.equal(e.ORDERS_MODE, 'async', name);
      assert.equal(e.REDIS_DURABILITY, 'memorydb', name);
      assert.equal(e.REDIS_USERNAME, user.Properties!.UserName, name);
      assert.equal(e.REDIS_TLS, 'true', name);
      assert.match(e.REDIS_KEY_PREFIX as string, /^\{[a-z]+\}:$/, `${name}: one hash slot for every key`);
      assert.equal(e.REDIS_CLUSTER, 'true', `${name}: a cluster client for MemoryDB's cluster mode`);
      assert.match(secret(flash, name, 'REDIS_AUTH_TOKEN'), new RegExp(passwordSecretId), name);
    }
  });

  it('watches MemoryDB memory and engine CPU instead of the ElastiCache nodes, on the same topic', () => {
    const alarms = resources(flash, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
    const [[, cluster]] = resources(flash, 'AWS::MemoryDB::Cluster') as [[string, Resource]];
    const memorydb = alarms.filter((a) => a.Namespace === 'AWS/MemoryDB');
    assert.deepEqual(memorydb.map((a) => a.MetricName).sort(), ['DatabaseMemoryUsagePercentage', 'EngineCPUUtilization']);
    for (const a of memorydb) assert.deepEqual(a.Dimensions, [{ Name: 'ClusterName', Value: cluster.Properties!.ClusterName }]);
    assert.equal(alarms.filter((a) => a.Namespace === 'AWS/ElastiCache').length, 0);
    const [[topicId]] = resources(flash, 'AWS::SNS::Topic') as [[string, Resource]];
    for (const a of memorydb) assert.deepEqual(a.AlarmActions, [{ Ref: topicId }]);
  });
});

describe('network exposure', () => {
  for (const [name, template, ports] of [['HTTP only', plain, [80]], ['with a certificate', tls, [80, 443]]] as const) {
    it(`only the load balancer's group admits the internet, on ${ports.join('/')} (${name})`, () => {
      const albGroups = Object.keys(template.findResources('AWS::EC2::SecurityGroup')).filter((id) => id.includes('AlbSg'));
      assert.equal(albGroups.length, 1);
      const open = openIngress(template);
      assert.ok(open.length > 0);
      for (const rule of open) assert.equal(rule.group, albGroups[0], `open ingress on ${rule.group}`);
      assert.deepEqual(open.map((r) => r.port).sort((a, b) => a - b), [...ports]);
    });
  }

  it('tasks run in private subnets without public addresses', () => {
    for (const [, service] of resources(plain, 'AWS::ECS::Service')) {
      assert.equal(service.Properties!.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED');
    }
  });

  it('the database and Redis admit only the application tasks (and the database its rotation function), on their own ports', () => {
    const ingress = resources(plain, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties!);
    for (const [group, port, sources] of [['DatabaseSg', 5432, /ApiSg|WorkerSg|RotationSg/], ['RedisSg', 6379, /ApiSg|WorkerSg/]] as const) {
      const rules = ingress.filter((r) => JSON.stringify(r.GroupId).includes(group));
      assert.equal(rules.length, group === 'DatabaseSg' ? 3 : 2, `${group}: api and worker${group === 'DatabaseSg' ? ' and rotation' : ''}`);
      for (const rule of rules) {
        assert.equal(rule.FromPort, port);
        assert.equal(rule.ToPort, port);
        assert.ok(rule.SourceSecurityGroupId, 'a source group, never a CIDR');
        assert.match(JSON.stringify(rule.SourceSecurityGroupId), sources);
      }
    }
  });

  it('VPC flow logs: all traffic, accepted and rejected, to the audit-log bucket', () => {
    const [[vpcId]] = resources(plain, 'AWS::EC2::VPC') as [[string, Resource]];
    const [[bucketId]] = resources(plain, 'AWS::S3::Bucket') as [[string, Resource]];
    const [[, flowLog]] = resources(plain, 'AWS::EC2::FlowLog') as [[string, Resource]];
    assert.deepEqual(flowLog.Properties!.ResourceId, { Ref: vpcId });
    assert.equal(flowLog.Properties!.TrafficType, 'ALL');
    assert.equal(flowLog.Properties!.LogDestinationType, 's3');
    assert.match(JSON.stringify(flowLog.Properties!.LogDestination), new RegExp(`${bucketId}.*/vpc-flow-logs/`));
  });
});

describe('load balancer', () => {
  it('without a certificate: one plain HTTP listener forwarding to the api', () => {
    const listeners = resources(plain, 'AWS::ElasticLoadBalancingV2::Listener');
    assert.equal(listeners.length, 1);
    assert.equal(listeners[0]![1].Properties!.Protocol, 'HTTP');
    assert.equal(listeners[0]![1].Properties!.DefaultActions[0].Type, 'forward');
  });

  it('with a certificate: HTTPS on 443 and HTTP on 80 redirecting to it', () => {
    tls.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/test' }],
    });
    tls.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [Match.objectLike({ Type: 'redirect', RedirectConfig: Match.objectLike({ Protocol: 'HTTPS', Port: '443' }) })],
    });
  });

  it('writes access logs to the audit-log bucket (alb/), after the bucket lets it', () => {
    const [[bucketId]] = resources(plain, 'AWS::S3::Bucket') as [[string, Resource]];
    const [[policyId, policy]] = resources(plain, 'AWS::S3::BucketPolicy') as [[string, Resource]];
    const [[, alb]] = resources(plain, 'AWS::ElasticLoadBalancingV2::LoadBalancer') as [[string, Resource]];
    const attributes = Object.fromEntries((alb.Properties!.LoadBalancerAttributes as Array<{ Key: string; Value: unknown }>).map((a) => [a.Key, a.Value]));
    assert.equal(attributes['access_logs.s3.enabled'], 'true');
    assert.deepEqual(attributes['access_logs.s3.bucket'], { Ref: bucketId });
    assert.equal(attributes['access_logs.s3.prefix'], 'alb');
    assert.ok(alb.DependsOn?.includes(policyId), 'the load balancer checks its write access when logging is switched on');
    const statements = policy.Properties!.PolicyDocument.Statement as Array<Record<string, any>>;
    const delivery = statements.filter((st) => /^AlbAccessLogs/.test(st.Sid ?? ''));
    assert.equal(delivery.length, 2, 'the log-delivery service (newer Regions) and the Region\'s ELB account (older ones)');
    for (const st of delivery) {
      assert.equal(st.Action, 's3:PutObject');
      assert.match(JSON.stringify(st.Resource), /\/alb\/AWSLogs\//);
    }
    const mapping = Object.values(plain.toJSON().Mappings as Record<string, Record<string, { account: string }>>)[0]!;
    assert.equal(mapping['eu-west-1']!.account, '156460612806');
    assert.equal(mapping['eu-central-2']!.account, 'none', 'a newer Region: the service principal only');
  });

  it('the audit-log bucket: encrypted, private, TLS only, expires logs after the retention, kept on stack deletion', () => {
    const [[bucketId, bucket]] = resources(plain, 'AWS::S3::Bucket') as [[string, Resource]];
    assert.equal((bucket as any).DeletionPolicy, 'Retain');
    const p = bucket.Properties!;
    assert.equal(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    assert.deepEqual(p.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    assert.equal(p.LifecycleConfiguration.Rules[0].ExpirationInDays, 30);
    const [[, policy]] = resources(plain, 'AWS::S3::BucketPolicy') as [[string, Resource]];
    assert.deepEqual(policy.Properties!.Bucket, { Ref: bucketId });
    const deny = (policy.Properties!.PolicyDocument.Statement as Array<Record<string, any>>).find((st) => st.Effect === 'Deny');
    assert.deepEqual(deny?.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
    assert.equal(deny?.Action, 's3:*');
  });

  it('health-checks the api on /health/live, port 8000', () => {
    plain.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8000, HealthCheckPath: '/health/live' });
  });
});

describe('containers', () => {
  const containers = resources(plain, 'AWS::ECS::TaskDefinition').flatMap(([, task]) => task.Properties!.ContainerDefinitions as any[]);

  it('api, worker, migrate and create-staff run the same image with their own command', () => {
    const commands = Object.fromEntries(containers.map((c) => [c.Name, c.Command.join(' ')]));
    assert.deepEqual(commands, {
      api: 'node dist/src/server.js',
      worker: 'node dist/src/worker.js',
      migrate: 'node dist/scripts/migrate.js',
      'create-staff': 'node dist/scripts/create-staff.js --username admin',
    });
    const images = new Set(containers.map((c) => JSON.stringify(c.Image)));
    assert.equal(images.size, 1);
    assert.match([...images][0]!, /opply-commerce:abc1234/);
  });

  it('no credential in plain environment: passwords, tokens and the JWT secret come from Secrets Manager', () => {
    for (const c of containers) {
      for (const { Name, Value } of c.Environment as Array<{ Name: string; Value: unknown }>) {
        assert.doesNotMatch(Name, /PASSWORD|SECRET|TOKEN|_URL$/, `${c.Name}: ${Name} must not be plain environment`);
        assert.doesNotMatch(JSON.stringify(Value), /resolve:secretsmanager|:\/\/[^/]*:[^/]*@/, `${c.Name}: ${Name}`);
      }
      const secrets = (c.Secrets as Array<{ Name: string }>).map((s) => s.Name);
      for (const name of ['DATABASE_PASSWORD', 'JWT_SECRET', 'REDIS_AUTH_TOKEN', 'SMTP_URL']) assert.ok(secrets.includes(name), `${c.Name} lacks ${name}`);
      assert.equal(c.Environment.find((e: { Name: string }) => e.Name === 'NODE_ENV')?.Value, 'production');
    }
    const staff = containers.find((c) => c.Name === 'create-staff');
    assert.ok(staff.Secrets.some((s: { Name: string }) => s.Name === 'ADMIN_PASSWORD'));
  });

  it('trusts exactly one proxy hop (the ALB) for the client address, never the whole X-Forwarded-For chain, and listens on every interface', () => {
    const variants = {
      plain,
      tls,
      flash: synth({ ordersMode: 'async' }),
      traced: synth({ xrayTracing: 'true' }),
    };
    for (const [name, template] of Object.entries(variants)) {
      const all = resources(template, 'AWS::ECS::TaskDefinition').flatMap(([, task]) => task.Properties!.ContainerDefinitions as any[]);
      for (const c of all.filter((c) => c.Name !== 'aws-otel-collector')) {
        const env = Object.fromEntries((c.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
        assert.equal(env.TRUST_PROXY, '1', `${name}/${c.Name}: TRUST_PROXY`);
        assert.equal(env.HOST, '0.0.0.0', `${name}/${c.Name}: HOST`);
      }
      assert.doesNotMatch(JSON.stringify(template.toJSON()), /"Name":"TRUST_PROXY","Value":"true"/, name);
    }
  });

  it('mail: SMTP_URL from the named secret, the SES identity and MAIL_FROM from the settings', () => {
    const mail = synth({ sesIdentity: 'shop.example.com' });
    mail.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'shop.example.com' });
    const worker = resources(mail, 'AWS::ECS::TaskDefinition')
      .flatMap(([, task]) => task.Properties!.ContainerDefinitions as any[])
      .find((c) => c.Name === 'worker');
    assert.equal(worker.Environment.find((e: { Name: string }) => e.Name === 'MAIL_FROM')?.Value, 'no-reply@shop.example.com');
    const smtp = worker.Secrets.find((s: { Name: string }) => s.Name === 'SMTP_URL');
    assert.match(JSON.stringify(smtp.ValueFrom), /secret:opply-commerce\/smtp-url/);
    assert.equal(resources(plain, 'AWS::SES::EmailIdentity').length, 0);
  });

  it('logs go to CloudWatch log groups with a retention', () => {
    for (const c of containers) assert.equal(c.LogConfiguration.LogDriver, 'awslogs');
    for (const [id, group] of resources(plain, 'AWS::Logs::LogGroup')) assert.ok(group.Properties!.RetentionInDays > 0, id);
  });
});

describe('tracing to X-Ray (context xrayTracing=true)', () => {
  const traced = synth({ xrayTracing: 'true', traceSampleRatio: '0.2' });
  const taskWith = (template: Template, name: string) =>
    resources(template, 'AWS::ECS::TaskDefinition').find(([, t]) => t.Properties!.ContainerDefinitions.some((c: { Name: string }) => c.Name === name))!;
  const env = (container: { Environment: Array<{ Name: string; Value: unknown }> }) => Object.fromEntries(container.Environment.map((e) => [e.Name, e.Value]));

  it('is off by default: no collector, no OTLP endpoint, no X-Ray permission', () => {
    const containers = resources(plain, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => t.Properties!.ContainerDefinitions as any[]);
    assert.ok(!containers.some((c) => c.Name === 'aws-otel-collector'));
    for (const c of containers) assert.ok(!('OTEL_EXPORTER_OTLP_ENDPOINT' in env(c)), c.Name);
    assert.doesNotMatch(JSON.stringify(plain.toJSON()), /AWSXRayDaemonWriteAccess/);
  });

  it('puts an ADOT collector beside the api, started first, not essential, exporting to X-Ray', () => {
    const [, task] = taskWith(traced, 'api');
    const containers = task.Properties!.ContainerDefinitions as any[];
    assert.deepEqual(containers.map((c) => c.Name).sort(), ['api', 'aws-otel-collector']);
    const collector = containers.find((c) => c.Name === 'aws-otel-collector');
    assert.match(collector.Image, /^public\.ecr\.aws\/aws-observability\/aws-otel-collector:v\d+\.\d+\.\d+$/);
    assert.deepEqual(collector.Command, ['--config=/etc/ecs/ecs-xray.yaml']);
    assert.equal(collector.Essential, false);
    assert.equal(collector.LogConfiguration.LogDriver, 'awslogs');
    const api = containers.find((c) => c.Name === 'api');
    assert.deepEqual(api.DependsOn, [{ ContainerName: 'aws-otel-collector', Condition: 'START' }]);
    assert.equal(api.Essential, true);
  });

  it('points the api at the sidecar with the sampling ratio; the other tasks are unchanged', () => {
    const [, task] = taskWith(traced, 'api');
    const api = (task.Properties!.ContainerDefinitions as any[]).find((c) => c.Name === 'api');
    assert.deepEqual(
      { endpoint: env(api).OTEL_EXPORTER_OTLP_ENDPOINT, service: env(api).OTEL_SERVICE_NAME, ratio: env(api).OTEL_TRACES_SAMPLER_ARG },
      { endpoint: 'http://localhost:4318', service: 'opply-commerce-api', ratio: '0.2' },
    );
    for (const name of ['worker', 'migrate', 'create-staff']) {
      const [, other] = taskWith(traced, name);
      assert.equal(other.Properties!.ContainerDefinitions.length, 1, name);
    }
  });

  it('lets the api task role write to X-Ray', () => {
    const [, task] = taskWith(traced, 'api');
    const roleId = task.Properties!.TaskRoleArn['Fn::GetAtt'][0];
    const role = traced.toJSON().Resources[roleId];
    assert.match(JSON.stringify(role.Properties.ManagedPolicyArns), /:iam::aws:policy\/AWSXRayDaemonWriteAccess/);
  });

  it('refuses a sampling ratio outside [0, 1]', () => {
    assert.throws(() => synth({ xrayTracing: 'true', traceSampleRatio: '5' }), /traceSampleRatio must be a number in \[0, 1\]/);
  });
});

describe('services and scaling', () => {
  it('the api sits behind the load balancer, the worker does not', () => {
    const services = resources(plain, 'AWS::ECS::Service').map(([id, s]) => [id, s.Properties!] as const);
    const api = services.find(([id]) => id.includes('ApiService'))![1];
    const worker = services.find(([id]) => id.includes('WorkerService'))![1];
    assert.equal(api.LoadBalancers.length, 1);
    assert.equal((worker.LoadBalancers ?? []).length, 0);
    for (const [, s] of services) assert.deepEqual(s.DeploymentConfiguration.DeploymentCircuitBreaker, { Enable: true, Rollback: true });
  });

  it('the api scales on CPU and on ALB requests per target', () => {
    const metrics = resources(plain, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(
      ([, p]) => p.Properties!.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType,
    );
    assert.ok(metrics.includes('ALBRequestCountPerTarget'));
    assert.equal(metrics.filter((m) => m === 'ECSServiceAverageCPUUtilization').length, 2);
  });
});

describe('migrations', () => {
  it('a one-off migrate task runs through a custom resource before the services roll out', () => {
    const [[migrateId]] = resources(plain, 'AWS::ECS::TaskDefinition').filter(([, t]) =>
      t.Properties!.ContainerDefinitions.some((c: { Name: string }) => c.Name === 'migrate'),
    ) as [[string, Resource]];
    const runs = resources(plain, 'Custom::OpplyMigrations');
    assert.equal(runs.length, 1);
    const [runId, run] = runs[0]!;
    assert.deepEqual(run.Properties!.TaskDefinitionArn, { Ref: migrateId });
    assert.equal(run.Properties!.ImageTag, 'abc1234');
    for (const [id, service] of resources(plain, 'AWS::ECS::Service')) {
      assert.ok(service.DependsOn?.includes(runId), `${id} must wait for the migrations`);
    }
    assert.ok(run.DependsOn?.some((d) => d.includes('DatabaseWriter')), 'migrations wait for the database writer');
  });

  it('its handlers run on the newest Node.js runtime, each with a role that writes only its own log group', () => {
    const handlers = resources(plain, 'AWS::Lambda::Function').filter(([id]) => /^Migrations(OnEvent|IsComplete)[0-9A-F]{8}$/.test(id));
    assert.equal(handlers.length, 2);
    for (const [id, fn] of handlers) {
      assert.equal(fn.Properties!.Runtime, 'nodejs24.x', id);
      const role = plain.toJSON().Resources[fn.Properties!.Role['Fn::GetAtt'][0]];
      assert.equal(role.Properties.ManagedPolicyArns, undefined, `${id}: no AWS-managed policy`);
    }
    const [[, machine]] = resources(plain, 'AWS::StepFunctions::StateMachine') as [[string, Resource]];
    assert.equal(machine.Properties!.LoggingConfiguration.Level, 'ALL');
  });
});

describe('alarms', () => {
  it('5xx rate, p99 latency, Aurora CPU and connections, Redis memory, each notifying the SNS topic', () => {
    const alarms = resources(plain, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
    const text = (a: Record<string, any>) => JSON.stringify(a);
    const find = (pattern: RegExp) => alarms.filter((a) => pattern.test(text(a)));
    assert.equal(find(/HTTPCode_Target_5XX_Count/).length, 1);
    assert.equal(find(/HTTPCode_ELB_5XX_Count/).length, 1);
    assert.equal(alarms.filter((a) => a.MetricName === 'TargetResponseTime' && a.ExtendedStatistic === 'p99').length, 1);
    assert.equal(alarms.filter((a) => a.Namespace === 'AWS/RDS' && a.MetricName === 'CPUUtilization').length, 1);
    assert.equal(alarms.filter((a) => a.Namespace === 'AWS/RDS' && a.MetricName === 'DatabaseConnections').length, 1);
    assert.equal(alarms.filter((a) => a.MetricName === 'DatabaseMemoryUsagePercentage').length, 2, 'one per Redis node');
    const [[topicId]] = resources(plain, 'AWS::SNS::Topic') as [[string, Resource]];
    for (const a of alarms) assert.deepEqual(a.AlarmActions, [{ Ref: topicId }], a.AlarmDescription);
  });

  it('mail: failing deliveries and mails dropped undelivered, counted from the worker log', () => {
    const filters = resources(plain, 'AWS::Logs::MetricFilter').map(([, f]) => f.Properties!);
    const names = filters.map((f) => f.MetricTransformations[0].MetricName).sort();
    assert.deepEqual(names, ['MailDeliveryFailures', 'MailsDropped']);
    for (const f of filters) assert.match(JSON.stringify(f.LogGroupName), /WorkerLogs/);
    const alarms = resources(plain, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
    for (const name of names) assert.equal(alarms.filter((a) => a.MetricName === name && a.Namespace === 'OpplyCommerce').length, 1, name);
  });

  it('subscribes the on-call address when given', () => {
    tls.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

/** Each subnet id is a Ref to one of the VPC's isolated `data` subnets. */
function assertIsolatedSubnets(subnetIds: Array<{ Ref: string }>) {
  assert.equal(subnetIds.length, 2, 'two availability zones');
  for (const id of subnetIds) assert.match(id.Ref, /dataSubnet/, JSON.stringify(id));
}

/** Every ingress rule, inline or standalone, that admits 0.0.0.0/0 or ::/0. */
function openIngress(template: Template): Array<{ group: string; port: number }> {
  const open: Array<{ group: string; port: number }> = [];
  const isOpen = (rule: Record<string, unknown>) => rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0';
  for (const [id, group] of resources(template, 'AWS::EC2::SecurityGroup')) {
    for (const rule of (group.Properties!.SecurityGroupIngress ?? []) as Array<Record<string, any>>) {
      if (isOpen(rule)) open.push({ group: id, port: rule.FromPort });
    }
  }
  for (const [, rule] of resources(template, 'AWS::EC2::SecurityGroupIngress')) {
    if (isOpen(rule.Properties!)) open.push({ group: rule.Properties!.GroupId?.['Fn::GetAtt']?.[0] ?? JSON.stringify(rule.Properties!.GroupId), port: rule.Properties!.FromPort });
  }
  return open;
}
