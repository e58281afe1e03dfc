/**
 * CloudWatch alarms on what users feel (5xx rate, p99 latency, unhealthy targets) and on what
 * runs out first (database CPU and connections, Redis or MemoryDB memory), all notifying one SNS topic.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmsProps {
  alb: elbv2.ApplicationLoadBalancer;
  targetGroup: elbv2.ApplicationTargetGroup;
  database: rds.DatabaseCluster;
  redisNodeIds: string[];
  /** MemoryDB (ordersMode=async): the cluster whose memory and CPU are watched instead. */
  memorydbClusterName?: string | undefined;
  dbConnectionsAlarm: number;
  alarmEmail?: string;
  /** The worker's log group: mail delivery is only visible in its log lines. */
  workerLogs: logs.ILogGroup;
}

export class Alarms extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'opply-commerce alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const period = Duration.minutes(1);
    const lb = props.alb.metrics;
    const errorRate = new cloudwatch.MathExpression({
      label: '5xx responses (% of requests)',
      // Missing points mean no errors (FILL 0); no requests means no error rate.
      expression: 'IF(requests > 0, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)',
      usingMetrics: {
        elb5xx: lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period, statistic: 'Sum' }),
        target5xx: lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period, statistic: 'Sum' }),
        requests: lb.requestCount({ period, statistic: 'Sum' }),
      },
      period,
    });
    this.alarm('Alb5xxRate', errorRate, 5, 'More than 5% of requests answered 5xx for 5 minutes', 5);

    this.alarm(
      'TargetP99Latency',
      props.targetGroup.metrics.targetResponseTime({ period, statistic: 'p99' }),
      1.5,
      'API p99 response time above 1.5 s for 5 minutes',
      5,
    );
    this.alarm(
      'UnhealthyTargets',
      props.targetGroup.metrics.unhealthyHostCount({ period, statistic: 'Maximum' }),
      1,
      'At least one API task failing the load balancer health check for 3 minutes',
      3,
    );

    this.alarm('DatabaseCpu', props.database.metricCPUUtilization({ period: Duration.minutes(5) }), 80, 'Aurora CPU above 80% for 15 minutes', 3);
    this.alarm(
      'DatabaseConnections',
      props.database.metricDatabaseConnections({ period: Duration.minutes(5), statistic: 'Maximum' }),
      props.dbConnectionsAlarm,
      `More than ${props.dbConnectionsAlarm} database connections: check DATABASE_POOL_MAX x task count`,
      2,
    );

    this.mailAlarms(props.workerLogs);

    if (props.memorydbClusterName) this.memorydbAlarms(props.memorydbClusterName);

    for (const [i, nodeId] of props.redisNodeIds.entries()) {
      this.alarm(
        `RedisMemory${i + 1}`,
        new cloudwatch.Metric({
          namespace: 'AWS/ElastiCache',
          metricName: 'DatabaseMemoryUsagePercentage',
          dimensionsMap: { CacheClusterId: nodeId },
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        80,
        `Redis node ${nodeId} above 80% of maxmemory (noeviction: at 100% cart writes fail)`,
        2,
      );
    }
  }

  /**
   * MemoryDB holds accepted orders in flash-sale mode: full memory refuses admissions (noeviction)
   * and a saturated engine thread slows every one of them. Maximum over the cluster's nodes.
   */
  private memorydbAlarms(clusterName: string) {
    const metric = (metricName: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/MemoryDB', metricName, dimensionsMap: { ClusterName: clusterName }, period: Duration.minutes(5), statistic: 'Maximum' });
    this.alarm(
      'OrderStoreMemory',
      metric('DatabaseMemoryUsagePercentage'),
      80,
      `MemoryDB ${clusterName} above 80% of maxmemory (noeviction: at 100% orders and cart writes are refused)`,
      2,
    );
    this.alarm('OrderStoreEngineCpu', metric('EngineCPUUtilization'), 80, `MemoryDB ${clusterName} engine CPU above 80% for 15 minutes: admissions slow down`, 3);
  }

  /**
   * Mail (password resets) goes through the worker's outbox; its log lines are the signal. Failures
   * are retried for 30 minutes, so a few are normal; many for 15 minutes mean SES (or its secret)
   * is broken, and one mail dropped undelivered means a customer did not get their link.
   */
  private mailAlarms(workerLogs: logs.ILogGroup) {
    const fromLog = (id: string, message: string, metricName: string, value: string) =>
      new logs.MetricFilter(this, id, {
        logGroup: workerLogs,
        filterPattern: logs.FilterPattern.stringValue('$.msg', '=', message),
        metricNamespace: 'OpplyCommerce',
        metricName,
        metricValue: value,
        defaultValue: 0,
      }).metric({ period: Duration.minutes(5), statistic: 'Sum' });
    this.alarm(
      'MailDeliveryFailing',
      fromLog('MailFailures', 'mail delivery failed; will retry', 'MailDeliveryFailures', '1'),
      10,
      'Mail delivery failing (10+ failed sends per 5 minutes for 15 minutes): check SES and the SMTP_URL secret',
      3,
    );
    this.alarm(
      'MailDropped',
      fromLog('MailDroppedFilter', 'mails dropped undelivered: they expired before a send succeeded', 'MailsDropped', '$.count'),
      1,
      'A mail (password reset) expired before it could be sent',
      1,
    );
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string, periods: number): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    return alarm;
  }
}
