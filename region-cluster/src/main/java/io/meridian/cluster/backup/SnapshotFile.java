package io.meridian.cluster.backup;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.state.ShardState;
import java.io.BufferedInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * A shard snapshot as a file an operator keeps: the body (the shard's canonical snapshot, as a
 * member stores it), then its {@link SnapshotManifest}, then a fixed trailer.
 *
 * <pre>
 *   body        body_bytes bytes, SHA-256 = manifest.body_sha256
 *   manifest    SnapshotManifest, deterministic encoding
 *   trailer     16 bytes: manifest length (int32, big-endian), CRC32C of the manifest (int32),
 *               the magic "MSNAPv1\n"
 * </pre>
 *
 * The manifest comes last so a file can be written as it streams in, and read back (and its
 * manifest shown) without reading the body. A file appears under its name only whole: it is written
 * to a temporary file beside it, forced to disk, renamed, and the directory forced.
 */
public final class SnapshotFile {
  /** The manifest's {@code format_version} this code writes and reads. */
  public static final int FORMAT_VERSION = 1;

  /** The usual file name ending, e.g. {@code shard-0-r1234.msnap}. */
  public static final String SUFFIX = ".msnap";

  private static final byte[] MAGIC = "MSNAPv1\n".getBytes(StandardCharsets.US_ASCII);
  private static final int TRAILER_BYTES = 8 + MAGIC.length;
  // A manifest is a few hundred bytes; a larger length means a file that is not a snapshot.
  private static final int MAX_MANIFEST_BYTES = 1 << 20;

  private SnapshotFile() {}

  /**
   * Writes {@code frozen} to {@code target} with its manifest, replacing nothing: fails if {@code
   * target} exists. Hashes the state (O(keys)) and writes it once.
   *
   * @param origin the manifest's {@code created_ms}, {@code region} and {@code member}
   * @return the manifest written
   */
  public static SnapshotManifest write(
      Path target, ShardState.Frozen frozen, SnapshotManifest origin) throws IOException {
    SnapshotManifest described = frozen.describe().toBuilder().mergeFrom(origin).build();
    try (Writer writer = create(target)) {
      frozen.writeTo(writer.body());
      return writer.finish(described);
    }
  }

  /** Starts writing {@code target}: write the body to {@link Writer#body()}, then finish. */
  public static Writer create(Path target) throws IOException {
    if (Files.exists(target)) {
      throw new IOException(target + " exists: a snapshot file is never overwritten");
    }
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path temp = dir.resolve("." + target.getFileName() + ".partial");
    return new Writer(target, temp);
  }

  /**
   * A snapshot file being written. {@link #close()} without {@link #finish} removes what was
   * written; nothing ever appears under the target name half-written.
   */
  public static final class Writer implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final MessageDigest sha = sha256();
    private final CountingOutputStream body;
    private boolean finished;

    private Writer(Path target, Path temp) throws IOException {
      this.target = target;
      this.temp = temp;
      this.channel =
          FileChannel.open(
              temp,
              StandardOpenOption.CREATE,
              StandardOpenOption.TRUNCATE_EXISTING,
              StandardOpenOption.WRITE);
      this.body =
          new CountingOutputStream(
              new DigestOutputStream(
                  new java.io.BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16),
                  sha));
    }

    /** Where the body goes; do not close it. */
    public OutputStream body() {
      return body;
    }

    /**
     * Completes the file: sets the body's size and checksum and the format version in {@code
     * manifest}, appends it with the trailer, forces the file to disk and renames it into place.
     *
     * @param expectedSha256 when not null, the checksum the sender computed: a mismatch fails
     *     before anything appears under the target name
     */
    public SnapshotManifest finish(SnapshotManifest manifest, byte[] expectedSha256)
        throws IOException {
      body.flush();
      byte[] digest = sha.digest();
      if (expectedSha256 != null && !Arrays.equals(digest, expectedSha256)) {
        throw new IOException(
            "snapshot body checksum mismatch: received "
                + HexFormat.of().formatHex(digest)
                + ", sender computed "
                + HexFormat.of().formatHex(expectedSha256));
      }
      SnapshotManifest complete =
          manifest.toBuilder()
              .setFormatVersion(FORMAT_VERSION)
              .setBodySha256(ByteString.copyFrom(digest))
              .setBodyBytes(body.count)
              .build();
      byte[] encoded = deterministic(complete);
      CRC32C crc = new CRC32C();
      crc.update(encoded);
      ByteBuffer tail = ByteBuffer.allocate(encoded.length + TRAILER_BYTES);
      tail.put(encoded).putInt(encoded.length).putInt((int) crc.getValue()).put(MAGIC).flip();
      channel.position(channel.size());
      while (tail.hasRemaining()) {
        channel.write(tail);
      }
      channel.force(true);
      channel.close();
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, target);
      }
      forceDirectory(target.toAbsolutePath().getParent());
      finished = true;
      return complete;
    }

    /** {@link #finish(SnapshotManifest, byte[])} with no sender checksum to compare. */
    public SnapshotManifest finish(SnapshotManifest manifest) throws IOException {
      return finish(manifest, null);
    }

    @Override
    public void close() throws IOException {
      if (!finished) {
        channel.close();
        Files.deleteIfExists(temp);
      }
    }
  }

  /**
   * Reads the manifest of {@code file}, checking the trailer and the manifest's own checksum, not
   * the body.
   *
   * @throws IOException naming what is wrong: not a snapshot file, truncated, corrupt manifest
   */
  public static SnapshotManifest readManifest(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size < TRAILER_BYTES) {
        throw new IOException(file + ": not a snapshot file (" + size + " bytes)");
      }
      ByteBuffer trailer = ByteBuffer.allocate(TRAILER_BYTES);
      readFully(channel, trailer, size - TRAILER_BYTES);
      trailer.flip();
      int length = trailer.getInt();
      int crc = trailer.getInt();
      byte[] magic = new byte[MAGIC.length];
      trailer.get(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IOException(
            file + ": not a snapshot file (no MSNAPv1 trailer: truncated or another kind of file)");
      }
      if (length < 0 || length > MAX_MANIFEST_BYTES || length > size - TRAILER_BYTES) {
        throw new IOException(file + ": corrupt snapshot trailer (manifest length " + length + ")");
      }
      ByteBuffer encoded = ByteBuffer.allocate(length);
      readFully(channel, encoded, size - TRAILER_BYTES - length);
      CRC32C check = new CRC32C();
      check.update(encoded.array());
      if ((int) check.getValue() != crc) {
        throw new IOException(file + ": corrupt snapshot manifest (CRC32C mismatch)");
      }
      SnapshotManifest manifest;
      try {
        manifest = SnapshotManifest.parseFrom(encoded.array());
      } catch (InvalidProtocolBufferException e) {
        throw new IOException(file + ": corrupt snapshot manifest (" + e.getMessage() + ")", e);
      }
      if (manifest.getFormatVersion() != FORMAT_VERSION) {
        throw new IOException(
            file
                + ": snapshot file format "
                + manifest.getFormatVersion()
                + " (this version reads "
                + FORMAT_VERSION
                + ")");
      }
      if (manifest.getBodyBytes() != size - TRAILER_BYTES - length) {
        throw new IOException(
            file
                + ": snapshot body is "
                + (size - TRAILER_BYTES - length)
                + " bytes, the manifest says "
                + manifest.getBodyBytes());
      }
      return manifest;
    }
  }

  /** A snapshot file checked whole: its manifest and the state it holds. */
  public record Verified(SnapshotManifest manifest, ShardState state) {}

  /**
   * Checks {@code file} whole: the manifest, the body's size and SHA-256, a full decode of the
   * body, and that the decoded state has the manifest's shard, revision, epoch, chain hash and
   * content hash.
   *
   * @throws IOException naming the first check that failed
   */
  public static Verified verify(Path file) throws IOException {
    SnapshotManifest manifest = readManifest(file);
    MessageDigest sha = sha256();
    ShardState state;
    try (InputStream in = body(file, manifest);
        DigestInputStream digesting = new DigestInputStream(in, sha)) {
      state = ShardState.readSnapshot(digesting);
      // Drain what the decoder did not read, so the checksum covers every byte.
      digesting.transferTo(OutputStream.nullOutputStream());
    }
    byte[] digest = sha.digest();
    if (!Arrays.equals(digest, manifest.getBodySha256().toByteArray())) {
      throw new IOException(
          file
              + ": snapshot body checksum mismatch (SHA-256 "
              + HexFormat.of().formatHex(digest)
              + ", manifest "
              + HexFormat.of().formatHex(manifest.getBodySha256().toByteArray())
              + ")");
    }
    SnapshotManifest decoded = state.freeze().describe();
    check(file, "shard", manifest.getShard(), decoded.getShard());
    check(file, "revision", manifest.getRevision(), decoded.getRevision());
    check(file, "epoch", manifest.getEpoch(), decoded.getEpoch());
    check(file, "chain hash", manifest.getChainHash(), decoded.getChainHash());
    check(file, "state hash", manifest.getStateHash(), decoded.getStateHash());
    check(file, "key count", manifest.getKeys(), decoded.getKeys());
    return new Verified(manifest, state);
  }

  /** The body of {@code file} (its canonical snapshot), as described by its manifest. */
  public static InputStream body(Path file, SnapshotManifest manifest) throws IOException {
    InputStream in = Files.newInputStream(file);
    return new BufferedInputStream(new BoundedInputStream(in, manifest.getBodyBytes()), 1 << 16);
  }

  private static void check(Path file, String what, Object manifest, Object decoded)
      throws IOException {
    if (!manifest.equals(decoded)) {
      throw new IOException(
          file
              + ": the manifest's "
              + what
              + " does not match the body's ("
              + show(manifest)
              + " vs "
              + show(decoded)
              + ")");
    }
  }

  private static String show(Object value) {
    return value instanceof ByteString b ? HexFormat.of().formatHex(b.toByteArray()) : "" + value;
  }

  private static byte[] deterministic(SnapshotManifest manifest) throws IOException {
    byte[] out = new byte[manifest.getSerializedSize()];
    CodedOutputStream cos = CodedOutputStream.newInstance(out);
    cos.useDeterministicSerialization();
    manifest.writeTo(cos);
    cos.checkNoSpaceLeft();
    return out;
  }

  private static void readFully(FileChannel channel, ByteBuffer into, long position)
      throws IOException {
    while (into.hasRemaining()) {
      if (channel.read(into, position + into.position()) < 0) {
        throw new IOException("unexpected end of file");
      }
    }
  }

  static void forceDirectory(Path dir) throws IOException {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some file systems cannot open a directory for reading; the rename is durable there anyway.
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }

  private static final class CountingOutputStream extends FilterOutputStream {
    private long count;

    CountingOutputStream(OutputStream out) {
      super(out);
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }
  }

  private static final class BoundedInputStream extends InputStream {
    private final InputStream in;
    private long left;

    BoundedInputStream(InputStream in, long limit) {
      this.in = in;
      this.left = limit;
    }

    @Override
    public int read() throws IOException {
      if (left <= 0) {
        return -1;
      }
      int b = in.read();
      if (b >= 0) {
        left--;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (left <= 0) {
        return -1;
      }
      int n = in.read(b, off, (int) Math.min(len, left));
      if (n > 0) {
        left -= n;
      }
      return n;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
