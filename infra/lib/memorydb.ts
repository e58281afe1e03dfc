/**
 * Amazon MemoryDB as the app's Redis when the stack runs flash-sale mode (ordersMode=async).
 *
 * In that mode an order is accepted once Redis has it (a stream entry, the stock taken from the
 * mirror) and written to PostgreSQL later by the worker, so the Redis must not lose an
 * acknowledged write. MemoryDB acknowledges a write only after its multi-AZ transaction log holds
 * it; ElastiCache replicates asynchronously and can lose the last writes on a failover. The
 * admission script reads the cart holds, the stock mirror and the stream in one atomic step, so
 * they share one Redis: MemoryDB replaces ElastiCache rather than sitting beside it.
 *
 * TLS is always on; the app signs in as an ACL user whose password is generated into Secrets
 * Manager and reaches the template only as a dynamic reference.
 */
import { Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as memorydb from 'aws-cdk-lib/aws-memorydb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './checks.ts';
import { REDIS_PORT } from './network.ts';

export interface OrderStoreProps {
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  securityGroup: ec2.ISecurityGroup;
  nodeType: string;
  replicasPerShard: number;
}

export class OrderStore extends Construct {
  readonly cluster: memorydb.CfnCluster;
  /** The ACL user's password (plain string secret). */
  readonly passwordSecret: secretsmanager.Secret;
  readonly clusterName: string;
  /** The ACL user the app signs in as (names are per account and region: derived from the stack). */
  readonly userName: string;

  constructor(scope: Construct, id: string, props: OrderStoreProps) {
    super(scope, id);
    const base = Stack.of(this).stackName.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30);
    this.clusterName = `${base}-orders`;
    this.userName = `${base}-app`;

    // MemoryDB passwords: 16-128 printable characters; alphanumerics keep the URL simple.
    this.passwordSecret = new secretsmanager.Secret(this, 'Password', {
      description: `opply-commerce: password of the MemoryDB user ${this.userName}`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledge(
      this.passwordSecret,
      'AwsSolutions-SMG4',
      'AWS provides no rotation function for MemoryDB ACL passwords: a change gives the user a second password, restarts the services, then drops the first, done by hand (docs/deploy-aws.md §15). Reachable only from the app security groups in the isolated subnets, over TLS.',
    );
    const user = new memorydb.CfnUser(this, 'User', {
      userName: this.userName,
      // Every key and command the app uses (MemoryDB itself withholds CONFIG and the admin commands).
      accessString: 'on ~* &* +@all',
      authenticationMode: { Type: 'password', Passwords: [this.passwordSecret.secretValue.unsafeUnwrap()] },
    });
    const acl = new memorydb.CfnACL(this, 'Acl', { aclName: `${base}-acl`, userNames: [this.userName] });
    acl.addResourceDependency(user);

    const subnetGroup = new memorydb.CfnSubnetGroup(this, 'Subnets', {
      subnetGroupName: `${base}-orders`,
      description: 'opply-commerce MemoryDB: isolated data subnets',
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });
    // noeviction, as on ElastiCache: evicting a hold or an accepted order would be silent loss.
    const parameters = new memorydb.CfnParameterGroup(this, 'Parameters', {
      parameterGroupName: `${base}-orders`,
      family: 'memorydb_redis7',
      description: 'opply-commerce: never evict reservations or accepted orders',
      parameters: { 'maxmemory-policy': 'noeviction' },
    });

    this.cluster = new memorydb.CfnCluster(this, 'Cluster', {
      clusterName: this.clusterName,
      description: 'opply-commerce: order admission (flash-sale mode), carts, reservations, cache, queue',
      engine: 'redis',
      engineVersion: '7.1',
      nodeType: props.nodeType,
      // One shard: the app keeps every key in one hash slot (REDIS_KEY_PREFIX with a hash tag),
      // so its multi-key scripts run on one primary. Replicas in other zones take over on failure
      // with the transaction log, losing no acknowledged write.
      numShards: 1,
      numReplicasPerShard: props.replicasPerShard,
      aclName: acl.aclName,
      tlsEnabled: true,
      subnetGroupName: subnetGroup.subnetGroupName,
      securityGroupIds: [props.securityGroup.securityGroupId],
      parameterGroupName: parameters.parameterGroupName,
      port: REDIS_PORT,
      snapshotRetentionLimit: 7,
      snapshotWindow: '02:00-03:00',
      maintenanceWindow: 'sun:04:30-sun:05:30',
      autoMinorVersionUpgrade: true,
    });
    this.cluster.addResourceDependency(acl);
    this.cluster.addResourceDependency(subnetGroup);
    this.cluster.addResourceDependency(parameters);
  }
}
