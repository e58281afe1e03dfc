// Runs after Secrets Manager rotated the database password: ECS hands a secret to a container
// only when the task starts, so running tasks still hold the old password and any new
// connection of theirs would be refused. A forced new deployment replaces them (rolling, at
// least 100% healthy) with tasks that read the new one.
import { ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';

const ecs = new ECSClient({});

export async function handler(event) {
  const cluster = process.env.CLUSTER;
  const services = (process.env.SERVICES ?? '').split(',').filter(Boolean);
  console.log(`secret ${event?.detail?.additionalEventData?.SecretId ?? '?'} rotated: restarting ${services.join(', ')}`);
  for (const service of services) {
    await ecs.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
  }
  return { restarted: services };
}
