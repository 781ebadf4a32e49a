package io.meridian.serving;

import com.google.protobuf.Message;
import com.linecorp.armeria.common.grpc.GrpcJsonMarshaller;
import io.grpc.MethodDescriptor;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The transcoder's JSON marshaller with Meridian's refusals: a request body it cannot read fails
 * with {@code INVALID_ARGUMENT} naming the offending field ({@link JsonRefusals}) rather than with
 * the parser's own message, which names neither the field nor, for enums, the valid values.
 */
final class ExplainingJsonMarshaller implements GrpcJsonMarshaller {
  private final GrpcJsonMarshaller delegate;

  ExplainingJsonMarshaller(GrpcJsonMarshaller delegate) {
    this.delegate = delegate;
  }

  @Override
  public <T> void serializeMessage(
      MethodDescriptor.Marshaller<T> marshaller, T message, OutputStream os) throws IOException {
    delegate.serializeMessage(marshaller, message, os);
  }

  @Override
  public <T> T deserializeMessage(MethodDescriptor.Marshaller<T> marshaller, InputStream is)
      throws IOException {
    byte[] body = is.readAllBytes();
    try {
      return delegate.deserializeMessage(marshaller, new ByteArrayInputStream(body));
    } catch (IOException | RuntimeException e) {
      if (marshaller instanceof MethodDescriptor.PrototypeMarshaller<T> p
          && p.getMessagePrototype() instanceof Message prototype) {
        throw new MeridianException(
            Error.Code.INVALID_ARGUMENT,
            JsonRefusals.explain(
                new String(body, StandardCharsets.UTF_8), prototype.getDescriptorForType(), e));
      }
      throw e;
    }
  }
}
