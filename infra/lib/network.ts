/**
 * The VPC over two availability zones and the security groups between the tiers. Only the load
 * balancer's group admits traffic from the internet; every other rule names a source group.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './checks.ts';
import { FLOW_LOG_PREFIX } from './audit-logs.ts';

export const API_PORT = 8000;
export const POSTGRES_PORT = 5432;
export const REDIS_PORT = 6379;

export interface NetworkProps {
  natGateways: number;
  /** Whether the ALB listens on 443 (a certificate was given). */
  https: boolean;
  /** Which Redis the redis group fronts (only its description differs). */
  redisKind: 'elasticache' | 'memorydb';
  /** Where the VPC flow logs go (the audit-log bucket). */
  logBucket: s3.IBucket;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly albSg: ec2.SecurityGroup;
  readonly apiSg: ec2.SecurityGroup;
  /** Worker and the one-off tasks (migrate, create-staff): outbound only. */
  readonly workerSg: ec2.SecurityGroup;
  readonly databaseSg: ec2.SecurityGroup;
  readonly redisSg: ec2.SecurityGroup;
  /** The database password's rotation function: 5432 to the database, HTTPS to Secrets Manager. */
  readonly rotationSg: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // Image layers come from S3: a free gateway endpoint keeps them off the NAT gateway bill.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    // Every flow, accepted or rejected, to S3 (no role, no CloudWatch ingestion bill): what
    // reached the database or Redis, and from where, can be answered after an incident.
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toS3(props.logBucket, `${FLOW_LOG_PREFIX}/`),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.albSg = new ec2.SecurityGroup(this, 'AlbSg', {
      vpc: this.vpc,
      description: 'Load balancer: HTTP/HTTPS from the internet',
      allowAllOutbound: false,
    });
    this.albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP from the internet (redirected to HTTPS when TLS is on)');
    if (props.https) this.albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS from the internet');
    acknowledge(
      this.albSg,
      'AwsSolutions-EC23',
      'The public API load balancer must accept any client address, on 80 (redirected to HTTPS when TLS is on) and 443 only; no other group admits a CIDR (asserted in test/stack.test.ts).',
    );

    this.apiSg = new ec2.SecurityGroup(this, 'ApiSg', {
      vpc: this.vpc,
      description: 'API tasks: port 8000 from the load balancer only',
      allowAllOutbound: true,
    });
    this.apiSg.addIngressRule(this.albSg, ec2.Port.tcp(API_PORT), 'API from the load balancer');
    this.albSg.addEgressRule(this.apiSg, ec2.Port.tcp(API_PORT), 'Load balancer to the API tasks');

    this.workerSg = new ec2.SecurityGroup(this, 'WorkerSg', {
      vpc: this.vpc,
      description: 'Worker and one-off tasks: no inbound traffic',
      allowAllOutbound: true,
    });

    this.databaseSg = new ec2.SecurityGroup(this, 'DatabaseSg', {
      vpc: this.vpc,
      description: 'Aurora PostgreSQL: 5432 from the application tasks only',
      allowAllOutbound: false,
    });
    this.redisSg = new ec2.SecurityGroup(this, 'RedisSg', {
      vpc: this.vpc,
      description:
        props.redisKind === 'memorydb' ? 'MemoryDB (orders, carts, cache): 6379 from the application tasks only' : 'ElastiCache Redis: 6379 from the application tasks only',
      allowAllOutbound: false,
    });
    for (const [client, name] of [[this.apiSg, 'API'], [this.workerSg, 'worker']] as const) {
      this.databaseSg.addIngressRule(client, ec2.Port.tcp(POSTGRES_PORT), `PostgreSQL from the ${name} tasks`);
      this.redisSg.addIngressRule(client, ec2.Port.tcp(REDIS_PORT), `Redis from the ${name} tasks`);
    }

    this.rotationSg = new ec2.SecurityGroup(this, 'RotationSg', {
      vpc: this.vpc,
      description: 'Database password rotation function: no inbound traffic',
      allowAllOutbound: true,
    });
    this.databaseSg.addIngressRule(this.rotationSg, ec2.Port.tcp(POSTGRES_PORT), 'PostgreSQL from the password rotation function');
  }
}
