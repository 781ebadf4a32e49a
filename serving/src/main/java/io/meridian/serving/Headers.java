package io.meridian.serving;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.meridian.api.v1.ResponseHeader;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * The {@code header} every Meridian response message has, read and rewritten whatever the response
 * type: nodes complete it with where they served the request, routers add how stale an answer is.
 */
public final class Headers {
  private Headers() {}

  private static final Map<Descriptors.Descriptor, Descriptors.FieldDescriptor> FIELDS =
      new ConcurrentHashMap<>();

  private static Descriptors.FieldDescriptor field(Message response) {
    return FIELDS.computeIfAbsent(
        response.getDescriptorForType(), d -> d.findFieldByName("header"));
  }

  /** The header of {@code response}. */
  public static ResponseHeader of(Message response) {
    return (ResponseHeader) response.getField(field(response));
  }

  /** {@code response} with its header replaced by {@code change} applied to it. */
  @SuppressWarnings("unchecked")
  public static <T extends Message> T with(T response, UnaryOperator<ResponseHeader> change) {
    Descriptors.FieldDescriptor f = field(response);
    return (T)
        response.toBuilder()
            .setField(f, change.apply((ResponseHeader) response.getField(f)))
            .build();
  }
}
