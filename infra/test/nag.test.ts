/**
 * cdk-nag's AwsSolutions pack over the whole app, the way `cdk synth` runs it (lib/checks.ts):
 * no finding may be left unacknowledged — error or warning — in the default setup or with every
 * option on (TLS, flash-sale mode on MemoryDB, X-Ray, SES identity, alarm e-mail), and every
 * acknowledgment in the stack carries its reason.
 */
import { App, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IConstruct } from 'constructs';
import { addStackChecks } from '../lib/checks.ts';
import { CommerceStack } from '../lib/commerce-stack.ts';
import { RegistryStack } from '../lib/registry-stack.ts';
import { settingsFromContext } from '../lib/settings.ts';

const featureFlags = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')).context;

type Finding = { plugin: string; rule: string; severity: string; path: string; description: string };

/**
 * Synthesizes the app with the checks on and returns every finding left in CDK's validation
 * report (acknowledged ones are removed from it). Synthesis throws when an error remains;
 * the report is read either way, so warnings count too.
 */
function check(context: Record<string, string>, extend?: (stack: CommerceStack) => void): { findings: Finding[]; app: App } {
  const outdir = mkdtempSync(path.join(tmpdir(), 'opply-nag-'));
  const app = new App({ outdir, context: { ...featureFlags, imageTag: 'abc1234', corsOrigins: 'https://shop.example.com', mailFrom: 'no-reply@shop.example.com', ...context } });
  const settings = settingsFromContext(app.node);
  new RegistryStack(app, 'TestRegistry', { repositoryName: settings.repositoryName });
  const stack = new CommerceStack(app, 'Test', { settings });
  extend?.(stack);
  addStackChecks(app);
  let thrown: unknown;
  try {
    app.synth();
  } catch (error) {
    thrown = error;
  }
  const reportFile = path.join(outdir, 'validation-report.json');
  if (!existsSync(reportFile)) {
    if (thrown) throw thrown;
    return { findings: [], app };
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
    pluginReports: Array<{ pluginName: string; violations: Array<{ ruleName: string; severity: string; description: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
  };
  const findings = report.pluginReports.flatMap((p) =>
    p.violations.flatMap((v) => v.violatingConstructs.map((c) => ({ plugin: p.pluginName, rule: v.ruleName, severity: v.severity, path: c.constructPath, description: v.description }))),
  );
  if (thrown && findings.length === 0) throw thrown;
  return { findings, app };
}

const show = (findings: Finding[]) => findings.map((f) => `${f.severity} ${f.rule} at ${f.path}: ${f.description}`).join('\n');

/** Every acknowledgment recorded on a construct of the app: rule id and reason. */
function acknowledgments(app: App): Array<{ path: string; id: string; reason: string }> {
  const out: Array<{ path: string; id: string; reason: string }> = [];
  const visit = (c: IConstruct) => {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) out.push({ path: c.node.path, id, reason });
    }
    for (const child of c.node.children) visit(child);
  };
  visit(app);
  return out;
}

describe('cdk-nag AwsSolutions checks', () => {
  const plain = check({});

  it('the default stack has no unacknowledged finding (error or warning)', () => {
    assert.equal(plain.findings.length, 0, `unacknowledged findings:\n${show(plain.findings)}`);
  });

  it('with every option on (TLS, MemoryDB, X-Ray, SES, alarm e-mail) there is none either', () => {
    const { findings } = check({
      certificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/test',
      ordersMode: 'async',
      xrayTracing: 'true',
      sesIdentity: 'shop.example.com',
      alarmEmail: 'oncall@example.com',
    });
    assert.equal(findings.length, 0, `unacknowledged findings:\n${show(findings)}`);
  });

  it('runs for real: a secret added without rotation or acknowledgment is reported, and nothing else', () => {
    const { findings } = check({}, (stack) => new secretsmanager.Secret(stack, 'Unrotated'));
    assert.deepEqual(
      findings.map((f) => [f.plugin, f.rule, f.path]),
      [['AwsSolutions', 'AwsSolutions-SMG4', 'Test/Unrotated/Resource']],
    );
  });

  it('every acknowledgment names one rule (one IAM finding at a time) and says why', () => {
    const acks = acknowledgments(plain.app).filter((a) => a.id.startsWith('AwsSolutions::'));
    assert.ok(acks.length > 0);
    for (const a of acks) {
      assert.match(a.id, /^AwsSolutions::AwsSolutions-[A-Z]+\d+(\[[^\]]+\])?$/, `${a.path}: ${a.id}`);
      if (/IAM[45]/.test(a.id)) assert.match(a.id, /\[(Resource|Policy)::.+\]$/, `${a.path}: ${a.id} must name the one resource or policy it accepts`);
      assert.ok(a.reason.length >= 60, `${a.path}: ${a.id} needs a real reason, got "${a.reason}"`);
    }
    // The findings this stack fixes instead of acknowledging must not be hidden anywhere.
    for (const fixed of ['ELB2', 'VPC7', 'RDS6', 'L1', 'SF1']) {
      assert.ok(!acks.some((a) => a.id === `AwsSolutions::AwsSolutions-${fixed}`), `${fixed} is fixed, not acknowledged`);
    }
    const rotated = acks.filter((a) => a.id === 'AwsSolutions::AwsSolutions-SMG4').map((a) => a.path);
    assert.ok(!rotated.some((p) => p.includes('Database')), 'the database secret rotates');
  });
});
