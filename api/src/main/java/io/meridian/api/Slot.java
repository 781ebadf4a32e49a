package io.meridian.api;

/**
 * Maps a namespace onto one of {@link #COUNT} slots: {@code murmur3_x86_32(utf8(namespace), seed 0)
 * mod 4096}, taken as an unsigned 32-bit value. The router maps slots onto shards. The hash is
 * fixed forever: changing it would move every namespace.
 */
public final class Slot {
  private Slot() {}

  /** Number of slots. */
  public static final int COUNT = 4096;

  /** The slot of {@code namespace}. */
  public static int of(String namespace) {
    return (int) (Integer.toUnsignedLong(murmur3x86x32(KeyPath.utf8(namespace), 0)) % COUNT);
  }

  /** MurmurHash3 x86 32-bit (Austin Appleby's reference algorithm). */
  static int murmur3x86x32(byte[] data, int seed) {
    final int c1 = 0xcc9e2d51;
    final int c2 = 0x1b873593;
    int h = seed;
    int blocks = data.length / 4;
    for (int i = 0; i < blocks; i++) {
      int k =
          (data[4 * i] & 0xff)
              | (data[4 * i + 1] & 0xff) << 8
              | (data[4 * i + 2] & 0xff) << 16
              | (data[4 * i + 3] & 0xff) << 24;
      k *= c1;
      k = Integer.rotateLeft(k, 15);
      k *= c2;
      h ^= k;
      h = Integer.rotateLeft(h, 13);
      h = h * 5 + 0xe6546b64;
    }
    int k = 0;
    int tail = blocks * 4;
    switch (data.length & 3) {
      case 3:
        k ^= (data[tail + 2] & 0xff) << 16;
      // fall through
      case 2:
        k ^= (data[tail + 1] & 0xff) << 8;
      // fall through
      case 1:
        k ^= data[tail] & 0xff;
        k *= c1;
        k = Integer.rotateLeft(k, 15);
        k *= c2;
        h ^= k;
      // fall through
      default:
        break;
    }
    h ^= data.length;
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return h;
  }
}
