/**
 * One S3 bucket for the network's audit trail: the load balancer's access logs (who asked what,
 * from which address, answered how) and the VPC flow logs (every connection accepted or refused
 * in the VPC). Encrypted, private, TLS-only, expired after the stack's log retention, and kept
 * when the stack is deleted (it is evidence).
 */
import { Aws, CfnCondition, CfnMapping, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { acknowledge } from './checks.ts';

export const ALB_LOG_PREFIX = 'alb';
export const FLOW_LOG_PREFIX = 'vpc-flow-logs';

export interface AuditLogsProps {
  /** Days before a log object expires (the stack's logRetentionDays). */
  retentionDays: number;
}

export class AuditLogs extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AuditLogsProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // Load balancer access logs can only be delivered to SSE-S3 buckets (not SSE-KMS).
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(props.retentionDays), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'This is the access-log bucket itself: logging its requests into itself would log every log delivery in a loop, and a second bucket for it would only move the finding.',
    );
    this.allowLoadBalancerDelivery();
  }

  /**
   * Elastic Load Balancing writes access logs as a regional AWS account in the Regions opened
   * before August 2022, and as the log-delivery service principal in the newer ones. The stack is
   * environment-agnostic (synth runs offline), so CDK's `logAccessLogs`, which needs a concrete
   * Region, cannot pick one: a mapping of the known Regions does it at deploy time instead.
   */
  private allowLoadBalancerDelivery() {
    const stack = Stack.of(this);
    const partitions = (stack.node.tryGetContext('@aws-cdk/core:target-partitions') as string[] | undefined) ?? ['aws'];
    const mapping = new CfnMapping(this, 'ElbLogAccounts');
    for (const region of RegionInfo.regions) {
      if (!region.partition || !partitions.includes(region.partition)) continue;
      mapping.setValue(region.name, 'account', region.elbv2Account ?? 'none');
    }
    const account = mapping.findInMap(Aws.REGION, 'account');
    const hasAccount = new CfnCondition(this, 'RegionHasElbLogAccount', { expression: Fn.conditionNot(Fn.conditionEquals(account, 'none')) });
    const objects = this.bucket.arnForObjects(`${ALB_LOG_PREFIX}/AWSLogs/${Aws.ACCOUNT_ID}/*`);
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlbAccessLogsService',
        principals: [new iam.ServicePrincipal('logdelivery.elasticloadbalancing.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [objects],
      }),
    );
    // In a newer Region the account statement names this account itself, which owns the bucket
    // anyway: the statement is then a no-op rather than a missing key.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlbAccessLogsRegionalAccount',
        principals: [new iam.ArnPrincipal(Fn.conditionIf(hasAccount.logicalId, Fn.sub('arn:${AWS::Partition}:iam::${Account}:root', { Account: account }), Aws.ACCOUNT_ID).toString())],
        actions: ['s3:PutObject'],
        resources: [objects],
      }),
    );
  }
}
