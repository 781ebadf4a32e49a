package io.meridian.serving;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.InstanceEvent;
import java.util.Set;

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

  // An event's type is printed even when it is its enum's first value (PUT, UP), which proto3 JSON
  // would leave out: a reader of the lines should see what happened without knowing that rule.
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer()
          .omittingInsignificantWhitespace()
          .includingDefaultValueFields(
              Set.of(
                  Event.getDescriptor().findFieldByNumber(Event.TYPE_FIELD_NUMBER),
                  InstanceEvent.getDescriptor()
                      .findFieldByNumber(InstanceEvent.TYPE_FIELD_NUMBER)));

  /** {@code message} in its proto3 JSON form, on one line. */
  public static HttpData line(Message message) {
    try {
      return HttpData.ofUtf8(JSON.print(message) + "\n");
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("a Meridian message always prints as JSON", e);
    }
  }
}
