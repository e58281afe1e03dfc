/**
 * CDK entry point. Two stacks:
 *   OpplyCommerceRegistry  the ECR repository (deploy once, before the first image push)
 *   OpplyCommerce          everything else (deploy with -c imageTag=<tag> for every release)
 * Settings come from context: see lib/settings.ts and docs/deploy-aws.md.
 */
import { App, Tags } from 'aws-cdk-lib';
import { addStackChecks } from '../lib/checks.ts';
import { CommerceStack } from '../lib/commerce-stack.ts';
import { RegistryStack } from '../lib/registry-stack.ts';
import { settingsFromContext } from '../lib/settings.ts';

const app = new App();
const settings = settingsFromContext(app.node);
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'OpplyCommerce';

new RegistryStack(app, `${stackName}Registry`, { repositoryName: settings.repositoryName, description: 'opply-commerce image registry' });
new CommerceStack(app, stackName, { settings, description: 'opply-commerce: VPC, ECS Fargate + ALB, Aurora PostgreSQL, ElastiCache Redis' });
Tags.of(app).add('project', 'opply-commerce');
addStackChecks(app);

app.synth();
