/**
 * The image registry, in its own stack so it exists (and holds an image) before the first deploy
 * of the application stack, and outlives it.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import type { Construct } from 'constructs';

export interface RegistryStackProps extends StackProps {
  repositoryName: string;
}

export class RegistryStack extends Stack {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      // One tag, one build: a deploy names exactly what runs, and a rollback can name it again.
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.AES_256,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { description: 'drop untagged layers', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(7) },
        { description: 'keep the last 50 images', tagStatus: ecr.TagStatus.ANY, maxImageCount: 50 },
      ],
    });
    new CfnOutput(this, 'RepositoryUri', { value: this.repository.repositoryUri });
  }
}
