// RETENTION_DAYS as an S3 lifecycle rule on both buckets: S3 itself expires every object (the
// original, its result, its failure record, its listing marker) that many days after it was
// written. Applied by ensureResources (`npm run setup`); rules of other owners are kept.
import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";

export const RETENTION_RULE_ID = "bitonal-retention";

/** Sets, changes or (days undefined) removes bitonal's expiry rule; returns what it did. */
export async function ensureRetention(
  s3: S3Client,
  bucket: string,
  days: number | undefined,
): Promise<"set" | "removed" | "unchanged"> {
  const existing = await readRules(s3, bucket);
  const ours = existing.find((rule) => rule.ID === RETENTION_RULE_ID);
  const others = existing.filter((rule) => rule.ID !== RETENTION_RULE_ID);
  if (days === undefined && !ours) return "unchanged";
  if (days !== undefined && ours?.Expiration?.Days === days && ours.Status === "Enabled") return "unchanged";
  const rules: LifecycleRule[] = [...others];
  if (days !== undefined) {
    rules.push({ ID: RETENTION_RULE_ID, Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: days } });
  }
  // An empty rule list is not allowed: with nothing left, the configuration goes.
  if (rules.length === 0) await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
  else
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }),
    );
  return days === undefined ? "removed" : "set";
}

async function readRules(s3: S3Client, bucket: string): Promise<LifecycleRule[]> {
  try {
    return (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchLifecycleConfiguration") return [];
    throw error;
  }
}
