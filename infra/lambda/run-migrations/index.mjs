// Custom resource handlers (CDK Provider framework) that run the migrate task on ECS Fargate
// and wait for it: onEvent starts the task, isComplete polls until it stops and fails the
// deployment when the container did not exit with 0. CloudFormation then rolls the stack back
// and the services keep the previous image.
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';

const ecs = new ECSClient({});

export async function onEvent(event) {
  const physicalId = event.PhysicalResourceId ?? `migrations-${event.LogicalResourceId}`;
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalId };

  const p = event.ResourceProperties;
  const out = await ecs.send(
    new RunTaskCommand({
      cluster: p.Cluster,
      taskDefinition: p.TaskDefinitionArn,
      launchType: 'FARGATE',
      count: 1,
      startedBy: `cfn-migrate-${String(p.ImageTag).slice(0, 24)}`,
      networkConfiguration: {
        awsvpcConfiguration: { subnets: p.Subnets, securityGroups: p.SecurityGroups, assignPublicIp: 'DISABLED' },
      },
    }),
  );
  const task = out.tasks?.[0];
  if (!task) throw new Error(`RunTask started nothing: ${JSON.stringify(out.failures ?? [])}`);
  console.log(`migration task ${task.taskArn} started for image ${p.ImageTag}`);
  return { PhysicalResourceId: physicalId, Data: { TaskArn: task.taskArn } };
}

export async function isComplete(event) {
  if (event.RequestType === 'Delete') return { IsComplete: true };

  const taskArn = event.Data?.TaskArn;
  const out = await ecs.send(new DescribeTasksCommand({ cluster: event.ResourceProperties.Cluster, tasks: [taskArn] }));
  const task = out.tasks?.[0];
  if (!task) throw new Error(`migration task ${taskArn} not found`);
  if (task.lastStatus !== 'STOPPED') return { IsComplete: false };

  const container = task.containers?.[0];
  if (container?.exitCode === 0) {
    console.log(`migration task ${taskArn} succeeded`);
    return { IsComplete: true, Data: { TaskArn: taskArn } };
  }
  throw new Error(
    `migration task ${taskArn} failed: exit code ${container?.exitCode ?? 'none'}, ` +
      `${container?.reason ?? task.stoppedReason ?? 'no reason given'} (see the migrate log group)`,
  );
}
