package io.meridian.cluster.internal;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.SnapshotManifest;
import org.pcollections.PVector;
import org.pcollections.TreePVector;

/**
 * A reset from a snapshot begun ({@code ResetBegin}) and not ended: the body's parts committed so
 * far, in order. Immutable; {@link #plus} shares the parts already held, so freezing it for a
 * snapshot costs nothing.
 *
 * @param resetId the id its parts and end carry
 * @param manifest the manifest of the snapshot being staged
 * @param startedMs the {@code now_ms} of its {@code ResetBegin}
 * @param parts the body's parts, part {@code i} at index {@code i}
 * @param bytes the size of the parts together
 */
public record StagedReset(
    String resetId,
    SnapshotManifest manifest,
    long startedMs,
    PVector<ByteString> parts,
    long bytes) {

  /** A staging with no part yet. */
  public static StagedReset begin(String resetId, SnapshotManifest manifest, long startedMs) {
    return new StagedReset(resetId, manifest, startedMs, TreePVector.empty(), 0);
  }

  /** This staging with {@code part} appended. */
  public StagedReset plus(ByteString part) {
    return new StagedReset(resetId, manifest, startedMs, parts.plus(part), bytes + part.size());
  }
}
