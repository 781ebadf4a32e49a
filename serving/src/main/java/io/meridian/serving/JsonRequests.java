package io.meridian.serving;

import com.google.api.AnnotationsProto;
import com.google.api.HttpRule;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Takes HTTP bodies sent without a JSON content type (plain {@code curl -d}) as JSON, as etcd's
 * gateway does, so that the transcoder accepts them. It only rewrites the header and never reads a
 * body: the transcoder's marshaller is strict and refuses unknown fields itself ({@link
 * ApiServer}).
 */
public final class JsonRequests implements DecoratingHttpServiceFunction {
  private static final JsonFormat.Parser STRICT = JsonFormat.parser();

  private final Set<String> postRoutes = new HashSet<>();

  /** Reads the POST routes from the services' {@code google.api.http} rules. */
  public JsonRequests(List<FileDescriptor> files) {
    for (FileDescriptor file : files) {
      for (ServiceDescriptor service : file.getServices()) {
        for (MethodDescriptor method : service.getMethods()) {
          HttpRule rule = method.getOptions().getExtension(AnnotationsProto.http);
          if (!rule.getPost().isEmpty()) {
            postRoutes.add(rule.getPost());
          }
        }
      }
    }
  }

  @Override
  public HttpResponse serve(HttpService delegate, ServiceRequestContext ctx, HttpRequest req)
      throws Exception {
    MediaType type = req.contentType();
    if (req.method() != HttpMethod.POST
        || (type != null && type.isJson())
        || !postRoutes.contains(ctx.path())) {
      return delegate.serve(ctx, req);
    }
    HttpRequest asJson =
        req.withHeaders(req.headers().toBuilder().contentType(MediaType.JSON_UTF_8).build());
    ctx.updateRequest(asJson);
    return delegate.serve(ctx, asJson);
  }

  /**
   * Parses a JSON body strictly into {@code builder} (an empty body is an empty message).
   *
   * @throws MeridianException INVALID_ARGUMENT for malformed JSON or a field that is unknown or
   *     holds a value of the wrong kind, naming the field
   */
  public static <B extends Message.Builder> B parse(String json, B builder) {
    try {
      STRICT.merge(json.isBlank() ? "{}" : json, builder);
      return builder;
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw new MeridianException(
          Error.Code.INVALID_ARGUMENT,
          JsonRefusals.explain(json, builder.getDescriptorForType(), e));
    }
  }
}
