/**
 * ECS Fargate: the api service behind an Application Load Balancer, the worker service, and the
 * one-off task definitions (migrate, create-staff) that share the same image and settings.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { acknowledge } from './checks.ts';
import { ALB_LOG_PREFIX } from './audit-logs.ts';
import type { Data } from './data.ts';
import { DATABASE_NAME } from './data.ts';
import type { Network } from './network.ts';
import { API_PORT, POSTGRES_PORT, REDIS_PORT } from './network.ts';
import type { Settings } from './settings.ts';

export interface ComputeProps {
  settings: Settings;
  network: Network;
  data: Data;
  logRetention: logs.RetentionDays;
  /** The audit-log bucket the load balancer writes its access logs to. */
  logBucket: s3.IBucket;
}

/**
 * How many proxies in front of the app append to X-Forwarded-For: exactly one, the ALB. It appends
 * the address it received the connection from; anything left of that came from the client and is
 * not believed. `true` (trust the whole chain) would let a client choose its own address and
 * escape every per-address limit; the app refuses it in production.
 */
export const TRUSTED_PROXY_HOPS = 1;

type TaskSize = { cpu: number; memoryMiB: number };

export class Compute extends Construct {
  readonly cluster: ecs.Cluster;
  readonly alb: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly apiService: ecs.FargateService;
  readonly workerService: ecs.FargateService;
  readonly migrateTask: ecs.FargateTaskDefinition;
  readonly createStaffTask: ecs.FargateTaskDefinition;
  readonly jwtSecret: secretsmanager.Secret;
  readonly staffPasswordSecret: secretsmanager.Secret;
  /** Each task's log group by container name (alarms read the worker's). */
  readonly logGroups = new Map<string, logs.LogGroup>();

  private readonly image: ecs.ContainerImage;
  private readonly environment: Record<string, string>;
  private readonly secrets: Record<string, ecs.Secret>;

  constructor(scope: Construct, id: string, private readonly props: ComputeProps) {
    super(scope, id);
    const { settings, network, data } = props;

    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc: network.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const repository = ecr.Repository.fromRepositoryName(this, 'Repository', settings.repositoryName);
    this.image = ecs.ContainerImage.fromEcrRepository(repository, settings.imageTag);

    this.jwtSecret = new secretsmanager.Secret(this, 'JwtSecret', {
      description: 'opply-commerce: JWT signing secret (JWT_SECRET)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledge(
      this.jwtSecret,
      'AwsSolutions-SMG4',
      'The app verifies tokens with one JWT_SECRET: a scheduled rotation would sign every customer out and leave running tasks signing with the old value until restarted. Rotating it is a deliberate operation with a deploy (docs/deploy-aws.md §15).',
    );
    this.staffPasswordSecret = new secretsmanager.Secret(this, 'StaffPassword', {
      description: 'opply-commerce: password given to the first staff account by the create-staff task',
      generateSecretString: { passwordLength: 24, excludePunctuation: true },
    });
    acknowledge(
      this.staffPasswordSecret,
      'AwsSolutions-SMG4',
      'Read once by the create-staff task to give the first staff account a password; from then on that password lives (hashed) in the database and is changed through the API, so rotating this secret would change nothing.',
    );

    // The app reads whole URLs; deploy/docker/entrypoint.sh builds DATABASE_URL,
    // DATABASE_REPLICA_URLS and REDIS_URL from these parts, so no credential is ever plain text.
    this.environment = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      // Every interface: the load balancer reaches the api over the task's network interface, and
      // outside production the app listens on loopback unless HOST says otherwise.
      HOST: '0.0.0.0',
      PORT: String(API_PORT),
      TRUST_PROXY: String(TRUSTED_PROXY_HOPS),
      DATABASE_HOST: data.database.clusterEndpoint.hostname,
      DATABASE_READER_HOST: data.database.clusterReadEndpoint.hostname,
      DATABASE_PORT: String(POSTGRES_PORT),
      DATABASE_NAME,
      DATABASE_POOL_MAX: String(settings.databasePoolMax),
      REDIS_HOST: data.redisEndpoint.host,
      REDIS_PORT: String(REDIS_PORT),
      REDIS_TLS: 'true',
      ...this.ordersMode(data),
      MIGRATE_ON_START: 'false',
      SEED_DEMO_DATA: 'false',
      RATE_LIMIT_PER_MINUTE: String(settings.rateLimitPerMinute),
      SHUTDOWN_TIMEOUT_MS: '25000',
      ...(settings.corsOrigins ? { CORS_ORIGINS: settings.corsOrigins } : {}),
      ...(settings.publicUrl ? { PUBLIC_URL: settings.publicUrl } : {}),
      ...(settings.appResetUrl ? { APP_RESET_URL: settings.appResetUrl } : {}),
      ...this.mail(settings),
    };
    this.secrets = {
      DATABASE_USER: ecs.Secret.fromSecretsManager(data.databaseSecret, 'username'),
      DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(data.databaseSecret, 'password'),
      REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(data.redisEndpoint.secret),
      JWT_SECRET: ecs.Secret.fromSecretsManager(this.jwtSecret),
      // Amazon SES's SMTP interface: smtp://<user>:<password>@email-smtp.<region>.amazonaws.com:587?requireTLS=true,
      // put in Secrets Manager by the operator (docs/deploy-aws.md); the app refuses to start without it.
      SMTP_URL: ecs.Secret.fromSecretsManager(secretsmanager.Secret.fromSecretNameV2(this, 'SmtpUrl', settings.smtpSecretName)),
    };

    // ---- api ----
    // With X-Ray tracing on, the app exports OTLP/HTTP to the collector beside it in the task.
    const tracing: Record<string, string> = settings.xrayTracing
      ? { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_SERVICE_NAME: 'opply-commerce-api', OTEL_TRACES_SAMPLER_ARG: String(settings.traceSampleRatio) }
      : {};
    const apiTask = this.taskDefinition('Api', 'api', settings.api, ['node', 'dist/src/server.js'], {
      environment: tracing,
      portMappings: [{ containerPort: API_PORT }],
      healthCheck: {
        command: ['CMD', 'node', '/app/deploy/docker/healthcheck.mjs'],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
    });
    if (settings.xrayTracing) this.addTraceCollector(apiTask);
    this.apiService = this.service('ApiService', apiTask, network.apiSg, true);

    this.alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: network.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: network.albSg,
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(60),
    });
    // Access logs to the audit bucket (CDK's logAccessLogs needs a concrete Region; the bucket's
    // policy for the log delivery is in audit-logs.ts). The load balancer checks that it may write
    // when the attribute is set, so it waits for that policy.
    this.alb.setAttribute('access_logs.s3.enabled', 'true');
    this.alb.setAttribute('access_logs.s3.bucket', props.logBucket.bucketName);
    this.alb.setAttribute('access_logs.s3.prefix', ALB_LOG_PREFIX);
    if (props.logBucket.policy) this.alb.node.addDependency(props.logBucket.policy);
    const listener = settings.certificateArn
      ? this.alb.addListener('Https', {
          port: 443,
          protocol: elbv2.ApplicationProtocol.HTTPS,
          certificates: [elbv2.ListenerCertificate.fromArn(settings.certificateArn)],
          sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
          open: false,
        })
      : this.alb.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    if (settings.certificateArn) this.alb.addRedirect({ sourcePort: 80, targetPort: 443, open: false });

    this.targetGroup = listener.addTargets('Api', {
      port: API_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.apiService.loadBalancerTarget({ containerName: 'api', containerPort: API_PORT })],
      // Liveness, not readiness: if a shared dependency (Redis) fails, every task would turn
      // unhealthy at once and ECS would replace them in a loop, while the app is designed to
      // keep serving in a degraded mode (catalog from the database).
      healthCheck: { path: '/health/live', healthyHttpCodes: '200', interval: Duration.seconds(15), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
      // Matches SHUTDOWN_TIMEOUT_MS: in-flight requests finish before the task stops.
      deregistrationDelay: Duration.seconds(30),
    });

    const apiScaling = this.apiService.autoScaleTaskCount({ minCapacity: settings.api.minTasks, maxCapacity: settings.api.maxTasks });
    apiScaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, scaleOutCooldown: Duration.seconds(60), scaleInCooldown: Duration.minutes(5) });
    apiScaling.scaleOnRequestCount('Requests', {
      requestsPerTarget: settings.requestsPerTargetPerMinute,
      targetGroup: this.targetGroup,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });

    // ---- worker: no port, no load balancer ----
    const workerTask = this.taskDefinition('Worker', 'worker', settings.worker, ['node', 'dist/src/worker.js']);
    this.workerService = this.service('WorkerService', workerTask, network.workerSg, false);
    this.workerService
      .autoScaleTaskCount({ minCapacity: settings.worker.minTasks, maxCapacity: settings.worker.maxTasks })
      .scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, scaleOutCooldown: Duration.seconds(60), scaleInCooldown: Duration.minutes(5) });

    // ---- one-off tasks ----
    const small = { cpu: 256, memoryMiB: 512 };
    this.migrateTask = this.taskDefinition('Migrate', 'migrate', small, ['node', 'dist/scripts/migrate.js']);
    // ADMIN_USERNAME and ADMIN_PASSWORD go together (the config refuses one without the other);
    // run it with an override of both the command and ADMIN_USERNAME to pick another name.
    this.createStaffTask = this.taskDefinition('CreateStaff', 'create-staff', small, ['node', 'dist/scripts/create-staff.js', '--username', 'admin'], {
      environment: { ADMIN_USERNAME: 'admin' },
      secrets: { ADMIN_PASSWORD: ecs.Secret.fromSecretsManager(this.staffPasswordSecret) },
    });
  }

  /**
   * Flash-sale mode on MemoryDB: ORDERS_MODE=async; REDIS_DURABILITY=memorydb declares the store
   * durable (MemoryDB withholds CONFIG, so the app cannot read it); the ACL user; and a key
   * prefix with a hash tag, so every key lands in one hash slot (MemoryDB runs in cluster mode,
   * where a script or MGET over keys of different slots is refused); REDIS_CLUSTER=true makes the
   * app's clients cluster clients that follow MOVED/ASK across failovers.
   */
  private ordersMode(data: Data): Record<string, string> {
    if (data.redisEndpoint.kind !== 'memorydb') return { ORDERS_MODE: 'sync' };
    return { ORDERS_MODE: 'async', REDIS_DURABILITY: 'memorydb', REDIS_USERNAME: data.redisEndpoint.username!, REDIS_KEY_PREFIX: '{opply}:', REDIS_CLUSTER: 'true' };
  }

  /** The SES identity mails are sent as (when the stack manages it) and MAIL_FROM. */
  private mail(settings: Settings): Record<string, string> {
    const identity = settings.sesIdentity;
    if (identity) {
      new ses.EmailIdentity(this, 'MailIdentity', {
        identity: identity.includes('@') ? ses.Identity.email(identity) : ses.Identity.domain(identity),
      });
    }
    const from = settings.mailFrom ?? (identity ? (identity.includes('@') ? identity : `no-reply@${identity}`) : undefined);
    return from ? { MAIL_FROM: from } : {};
  }

  private taskDefinition(
    id: string,
    name: string,
    size: TaskSize,
    command: string[],
    extra: Partial<ecs.ContainerDefinitionOptions> = {},
  ): ecs.FargateTaskDefinition {
    const task = new ecs.FargateTaskDefinition(this, `${id}Task`, {
      cpu: size.cpu,
      memoryLimitMiB: size.memoryMiB,
      runtimePlatform: { operatingSystemFamily: ecs.OperatingSystemFamily.LINUX, cpuArchitecture: ecs.CpuArchitecture.X86_64 },
    });
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      logGroupName: `/opply-commerce/${Stack.of(this).stackName}/${name}`,
      retention: this.props.logRetention,
    });
    this.logGroups.set(name, logGroup);
    task.addContainer(name, {
      image: this.image,
      command,
      essential: true,
      stopTimeout: Duration.seconds(30),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: name }),
      ...extra,
      environment: { ...this.environment, ...extra.environment },
      secrets: { ...this.secrets, ...extra.secrets },
    });
    acknowledge(
      task,
      'AwsSolutions-ECS2',
      'The plain environment holds only settings that are not secret (host names, ports, modes, limits); every credential (database password, Redis token, JWT secret, SMTP URL) is a Secrets Manager secret, which test/stack.test.ts asserts for every container.',
    );
    // The execution role pulls the image: ecr:GetAuthorizationToken exists only on "*" (the rest
    // of its policy names the repository, the log group and each secret).
    acknowledge(
      task.obtainExecutionRole(),
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken, needed to pull the image, has no resource-level permissions; every other statement names its repository, log group or secret.',
    );
    return task;
  }

  /**
   * The ADOT collector as a sidecar, with the configuration baked into its image that receives
   * OTLP on 4317/4318 and sends traces to X-Ray. Not essential: if it stops, the API keeps serving
   * (spans are dropped after the exporter's retries) instead of the task being replaced.
   */
  private addTraceCollector(task: ecs.FargateTaskDefinition) {
    const logGroup = new logs.LogGroup(this, 'AdotCollectorLogs', {
      logGroupName: `/opply-commerce/${Stack.of(this).stackName}/aws-otel-collector`,
      retention: this.props.logRetention,
    });
    const app = task.defaultContainer!;
    const collector = task.addContainer('aws-otel-collector', {
      image: ecs.ContainerImage.fromRegistry(this.props.settings.adotCollectorImage),
      command: ['--config=/etc/ecs/ecs-xray.yaml'],
      essential: false,
      memoryReservationMiB: 64,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'aws-otel-collector' }),
    });
    // The collector starts first, so the first requests' spans have somewhere to go.
    app.addContainerDependencies({ container: collector, condition: ecs.ContainerDependencyCondition.START });
    task.taskRole.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AWSXRayDaemonWriteAccess'));
    acknowledge(
      task.taskRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSXRayDaemonWriteAccess]',
      'AWS\'s policy for the X-Ray daemon/collector: only the trace-writing and sampling actions, which X-Ray offers on no narrower resource than *; an inline copy would be the same grant without AWS\'s updates.',
    );
  }

  /** No desiredCount: autoscaling owns the task count, so a deploy does not reset it. */
  private service(id: string, taskDefinition: ecs.FargateTaskDefinition, sg: ec2.ISecurityGroup, behindLoadBalancer: boolean): ecs.FargateService {
    return new ecs.FargateService(this, id, {
      cluster: this.cluster,
      taskDefinition,
      securityGroups: [sg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: behindLoadBalancer ? Duration.seconds(60) : undefined,
    });
  }
}
