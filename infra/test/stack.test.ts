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

  it('the database and Redis admit only the application tasks, on their own ports', () => {
    const ingress = resources(plain, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties!);
    for (const [group, port] of [['DatabaseSg', 5432], ['RedisSg', 6379]] as const) {
      const rules = ingress.filter((r) => JSON.stringify(r.GroupId).includes(group));
      assert.equal(rules.length, 2, `${group}: api and worker`);
      for (const rule of rules) {
        assert.equal(rule.FromPort, port);
        assert.equal(rule.ToPort, port);
        assert.ok(rule.SourceSecurityGroupId, 'a source group, never a CIDR');
        assert.match(JSON.stringify(rule.SourceSecurityGroupId), /ApiSg|WorkerSg/);
      }
    }
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
