/**
 * cdk-nag's AwsSolutions rule pack (the checks AWS Solutions apply to their own stacks), run as
 * a CDK policy-validation plugin on every synthesis: `cdk synth` prints and fails on any finding
 * not acknowledged in the stack, and test/nag.test.ts fails on any at all. Each acknowledgment
 * sits next to the resource it concerns (Validations.of(resource).acknowledge) with its reason.
 */
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export function addStackChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/**
 * Acknowledges one AwsSolutions finding on a construct and everything under it, with the reason
 * it does not apply. `rule` is the rule id as the report prints it, with the finding for the IAM
 * rules (`AwsSolutions-IAM5[Resource::*]`); the plugin's namespace is added here, since an id
 * without one would be taken for a CDK annotation.
 */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::${rule}`, reason });
}
