/**
 * The modules' background jobs. The worker process runs them; with the embedded defaults (no
 * Redis, one process) the API runs them itself (RUN_JOBS_IN_API). Each job runs on its own
 * interval, never overlapping itself; a failed run is logged and tried again at the next tick.
 */
import type { Services } from './services.ts';

interface Job {
  name: string;
  everyMs: number;
  run: () => Promise<unknown>;
}

export function startJobs(services: Services): { stop(): Promise<void> } {
  const jobs: Job[] = [
    // Every 250 ms, and webhook delivery woken at once when it relayed something: an event waits
    // ~0.1 s for the relay on average, not half a second plus the delivery loop's idle poll.
    {
      name: 'orders.relay-outbox',
      everyMs: 250,
      run: async () => {
        if ((await services.orders.relayOutbox()) > 0) services.webhooks.wakeDelivery();
      },
    },
    { name: 'orders.purge-idempotency-keys', everyMs: 10 * 60_000, run: () => services.orders.purgeExpiredIdempotencyKeys() },
    { name: 'identity.deliver-mail', everyMs: 1_000, run: () => services.identity.deliverMail() },
    { name: 'identity.purge-refresh-tokens', everyMs: 60 * 60_000, run: () => services.identity.purgeExpiredRefreshTokens() },
    { name: 'webhooks.purge-old-events', everyMs: 60 * 60_000, run: () => services.webhooks.purgeOldEvents() },
  ];
  // Webhook delivery runs all the time (a loop claiming due deliveries), not on a timer.
  services.webhooks.startDelivery();
  // Flash-sale mode: the accepted-order consumer runs all the time; the reconciler at start and periodically.
  const { config } = services;
  const flashSale = services.orders.flashSale;
  const consumer = flashSale?.worker();
  if (consumer && flashSale) {
    const reconciler = flashSale.reconciler();
    const reconcile = async () => {
      await reconciler.reconcile();
      await reconciler.pruneConsumers(10 * config.orders.claimIdleMs, consumer.consumer);
    };
    jobs.push({ name: 'orders.reconcile-mirrors', everyMs: config.orders.reconcileSeconds * 1000, run: reconcile });
    void reconcile()
      .catch((error) => services.logger.warn({ err: error }, 'first mirror reconcile failed; the periodic one retries'))
      .finally(() => stopped || consumer.start());
  }
  let stopped = false;
  const running = new Set<Promise<unknown>>();
  const timers = jobs.map((job) => {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      const run = job
        .run()
        .catch((error) => services.logger.error({ err: error, job: job.name }, 'job failed'))
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    }, job.everyMs);
    timer.unref();
    return timer;
  });
  return {
    /** Stops the timers and waits for runs in progress, so pools are not closed under them. */
    async stop() {
      stopped = true;
      timers.forEach(clearInterval);
      await consumer?.stop();
      await services.webhooks.stopDelivery();
      await Promise.allSettled([...running]);
    },
  };
}
