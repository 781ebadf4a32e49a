package io.meridian.serving;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;

/**
 * Streams of messages over HTTP as JSON lines ({@code POST /v1/watch} and {@code POST
 * /v1/registry/watch} on nodes and routers).
 */
public final class JsonLines {
  private JsonLines() {}

  /** The response headers of a JSON-lines stream. */
  public static final ResponseHeaders HEADERS =
      ResponseHeaders.builder(HttpStatus.OK)
          .contentType(MediaType.parse("application/x-ndjson"))
          .build();

  // Fields at their default values too, as the HTTP/JSON answers print them (ApiServer).
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().includingDefaultValueFields().omittingInsignificantWhitespace();

  /** {@code message} in its proto3 JSON form with every field, on one line. */
  public static HttpData line(Message message) {
    try {
      return HttpData.ofUtf8(JSON.print(message) + "\n");
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("a Meridian message always prints as JSON", e);
    }
  }
}
