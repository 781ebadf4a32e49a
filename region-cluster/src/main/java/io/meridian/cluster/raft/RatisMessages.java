package io.meridian.cluster.raft;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * The one place where our protobuf messages cross into Ratis's shaded protobuf: Ratis carries
 * opaque bytes in its own {@code ByteString}.
 */
public final class RatisMessages {
  private RatisMessages() {}

  /** Wraps one of our messages as a Ratis message without copying. */
  public static Message toMessage(MessageLite message) {
    return Message.valueOf(toByteString(message));
  }

  public static ByteString toByteString(MessageLite message) {
    return UnsafeByteOperations.unsafeWrap(message.toByteArray());
  }

  /** Parses one of our messages out of Ratis's bytes. */
  public static <T> T parse(Parser<T> parser, ByteString bytes)
      throws InvalidProtocolBufferException {
    return parser.parseFrom(bytes.asReadOnlyByteBuffer());
  }

  public static <T> T parse(Parser<T> parser, Message message)
      throws InvalidProtocolBufferException {
    return parse(parser, message.getContent());
  }
}
