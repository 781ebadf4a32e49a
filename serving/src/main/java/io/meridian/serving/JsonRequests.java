package io.meridian.serving;

import com.google.api.AnnotationsProto;
import com.google.api.HttpRule;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.server.DecoratingHttpServiceFunction;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks HTTP/JSON request bodies strictly before transcoding: malformed JSON and unknown fields
 * are refused with {@code INVALID_ARGUMENT} and a JSON error body (the transcoder alone would
 * ignore unknown fields). Bodies sent without a JSON content type (plain {@code curl -d}) are taken
 * as JSON, as etcd's gateway does.
 */
public final class JsonRequests implements DecoratingHttpServiceFunction {
  private static final JsonFormat.Parser STRICT = JsonFormat.parser();

  private final Map<String, Descriptor> bodyTypes = new HashMap<>();

  /**
   * Reads the POST routes and their body types from the services' {@code google.api.http} rules.
   */
  public JsonRequests(List<FileDescriptor> files) {
    for (FileDescriptor file : files) {
      for (ServiceDescriptor service : file.getServices()) {
        for (MethodDescriptor method : service.getMethods()) {
          HttpRule rule = method.getOptions().getExtension(AnnotationsProto.http);
          if (!rule.getPost().isEmpty()) {
            bodyTypes.put(rule.getPost(), method.getInputType());
          }
        }
      }
    }
  }

  @Override
  public HttpResponse serve(HttpService delegate, ServiceRequestContext ctx, HttpRequest req)
      throws Exception {
    Descriptor type = req.method() == HttpMethod.POST ? bodyTypes.get(ctx.path()) : null;
    if (type == null) {
      return delegate.serve(ctx, req);
    }
    return HttpResponse.of(
        req.aggregate()
            .thenApply(
                body -> {
                  try {
                    parse(body.contentUtf8(), DynamicMessage.newBuilder(type));
                  } catch (MeridianException e) {
                    return GrpcErrors.httpResponse(e.toError());
                  }
                  HttpRequest asJson =
                      HttpRequest.of(
                          body.headers().toBuilder().contentType(MediaType.JSON_UTF_8).build(),
                          body.content());
                  ctx.updateRequest(asJson);
                  try {
                    return delegate.serve(ctx, asJson);
                  } catch (Exception e) {
                    return HttpResponse.ofFailure(e);
                  }
                }));
  }

  /**
   * Parses a JSON body strictly into {@code builder} (an empty body is an empty message).
   *
   * @throws MeridianException INVALID_ARGUMENT for malformed JSON or an unknown field
   */
  public static <B extends Message.Builder> B parse(String json, B builder) {
    try {
      STRICT.merge(json.isBlank() ? "{}" : json, builder);
      return builder;
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "body: not a valid %s in JSON: %s",
          builder.getDescriptorForType().getName(),
          e.getMessage());
    }
  }
}
