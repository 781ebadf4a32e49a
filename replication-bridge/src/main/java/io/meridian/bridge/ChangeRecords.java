package io.meridian.bridge;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeRecord;
import io.meridian.api.v1.Error;
import java.util.ArrayList;
import java.util.List;

/**
 * How change batches are laid out in Kafka records: one {@link ChangeRecord} per batch, or, for a
 * batch larger than the record limit, {@code parts} records with consecutive slices of it. The
 * source writes all parts of a batch in one transaction, so a {@code read_committed} reader sees
 * whole batches only; {@link Assembly} puts them back together.
 */
final class ChangeRecords {
  /** Room for the record's own fields around a slice. */
  private static final int ENVELOPE_BYTES = 64;

  private ChangeRecords() {}

  /** The records of {@code batch}, each at most {@code maxRecordBytes} long. */
  static List<ChangeRecord> encode(ChangeBatch batch, int maxRecordBytes) {
    ByteString data = batch.toByteString();
    int slice = maxRecordBytes - ENVELOPE_BYTES;
    int parts = Math.max(1, (data.size() + slice - 1) / slice);
    List<ChangeRecord> records = new ArrayList<>(parts);
    for (int i = 0; i < parts; i++) {
      records.add(
          ChangeRecord.newBuilder()
              .setShard(batch.getShard())
              .setEpoch(batch.getEpoch())
              .setRevision(batch.getRevision())
              .setPart(i)
              .setParts(parts)
              .setData(data.substring(i * slice, Math.min(data.size(), (i + 1) * slice)))
              .build());
    }
    return records;
  }

  /** Parses a record's value; INTERNAL if it is not a change record (a foreign producer). */
  static ChangeRecord parse(byte[] value, String topic, long offset) {
    try {
      return ChangeRecord.parseFrom(value);
    } catch (InvalidProtocolBufferException e) {
      throw MeridianException.of(
          Error.Code.INTERNAL,
          "%s offset %d: not a change record (%s); only the bridge may write this topic",
          topic,
          offset,
          e.getMessage());
    }
  }

  /** Reassembles batches from records read in order. */
  static final class Assembly {
    private final List<ChangeRecord> pending = new ArrayList<>();

    /**
     * Adds the next record.
     *
     * @return the batch it completes, or null while parts are missing (or for a fence marker)
     * @throws MeridianException INTERNAL if the record does not continue the batch being assembled
     */
    ChangeBatch add(ChangeRecord record) {
      if (record.getFencedBelowEpoch() > 0 && record.getParts() == 0) {
        return null; // A fence marker (see SourceFence): no batch.
      }
      if (!pending.isEmpty()) {
        ChangeRecord first = pending.get(0);
        if (record.getRevision() != first.getRevision() || record.getPart() != pending.size()) {
          throw MeridianException.of(
              Error.Code.INTERNAL,
              "change record of revision %d part %d follows revision %d part %d of %d",
              record.getRevision(),
              record.getPart(),
              first.getRevision(),
              pending.size() - 1,
              first.getParts());
        }
      } else if (record.getPart() != 0) {
        throw MeridianException.of(
            Error.Code.INTERNAL,
            "change record of revision %d starts at part %d (expected: 0)",
            record.getRevision(),
            record.getPart());
      }
      pending.add(record);
      if (pending.size() < record.getParts()) {
        return null;
      }
      ByteString data = ByteString.EMPTY;
      for (ChangeRecord part : pending) {
        data = data.concat(part.getData());
      }
      pending.clear();
      try {
        return ChangeBatch.parseFrom(data);
      } catch (InvalidProtocolBufferException e) {
        throw MeridianException.of(
            Error.Code.INTERNAL,
            "change records of revision %d: not a change batch (%s)",
            record.getRevision(),
            e.getMessage());
      }
    }

    /** Forgets a half-assembled batch (after a seek). */
    void reset() {
      pending.clear();
    }
  }
}
