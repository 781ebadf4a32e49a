/** The Java client of Meridian. Start with {@link io.meridian.client.MeridianClient#builder()}. */
package io.meridian.client;
