package dev.nuri.worker.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.OutputTooBigException;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.io.FileNotFoundException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a model's chat template the way transformers does (Jinja2 with trim_blocks and lstrip_blocks, plus
 * {@code raise_exception} and {@code strftime_now}). Jinjava is close to Jinja2 but not equal (it mis-renders
 * namespace(), [::-1] and lstrip(chars)), so every template we ship is checked against Python Jinja2 in the tests.
 *
 * <p>Message content comes from callers and is data, never template code: nested interpretation (Jinjava's
 * default, which renders {@code {{ 7*7 }}} inside a value) is off; include, import and from resolve nothing; the
 * render is cut after a time limit and the output at a size limit. transformers renders in a sandbox with the same
 * intent.
 *
 * <p>The time limit counts the rendering thread's CPU time, not the clock: what it stops is a template that burns a
 * core, and on a loaded machine a harmless render can wait seconds for a core (a first render took over 2 s of
 * wall-clock time at load average 27), which must not turn a valid request into a 400.
 */
public final class ChatTemplate {
    public static final Duration DEFAULT_RENDER_TIMEOUT = Duration.ofSeconds(2);
    /** Far above any prompt a context holds; callers pass their own bound. */
    public static final long DEFAULT_MAX_OUTPUT_CHARS = 64L << 20;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final ThreadLocal<Deadline> DEADLINE = new ThreadLocal<>();

    private final Jinjava jinjava;
    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final Duration renderTimeout;
    private final long maxOutputChars;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this(template, bosToken, eosToken, DEFAULT_RENDER_TIMEOUT, DEFAULT_MAX_OUTPUT_CHARS);
    }

    /**
     * @param renderTimeout a render that has used this much CPU time fails (checked before each template node)
     * @param maxOutputChars a render whose output grows past this fails
     */
    public ChatTemplate(String template, String bosToken, String eosToken, Duration renderTimeout, long maxOutputChars) {
        this.template = template;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.renderTimeout = renderTimeout;
        this.maxOutputChars = maxOutputChars;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                .withNestedInterpretationEnabled(false)
                .withMaxOutputSize(maxOutputChars)
                .withProcessors(JinjavaProcessors.newBuilder().withNodePreProcessor((node, interpreter) -> checkDeadline()).build())
                .build());
        jinjava.setResourceLocator((name, charset, interpreter) -> {
            throw new FileNotFoundException("chat templates cannot load '" + name + "'");
        });
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
    }

    /** Renders; a template error (including raise_exception, the time and size limits) becomes a {@link ChatTemplateException}. */
    public String render(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        return render(messages, null, addGenerationPrompt);
    }

    /** @param tools the request's tools (OpenAI's shape, as plain maps and lists), or null: the template's {@code tools} */
    public String render(List<Map<String, Object>> messages, List<Object> tools, boolean addGenerationPrompt) {
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", messages);
        if (tools != null) bindings.put("tools", tools);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("bos_token", bosToken == null ? "" : bosToken);
        bindings.put("eos_token", eosToken == null ? "" : eosToken);
        RenderResult result;
        DEADLINE.set(Deadline.after(renderTimeout));
        try {
            result = jinjava.renderForResult(template, bindings);
        } catch (RenderTimeout e) {
            throw timedOut();
        } finally {
            DEADLINE.remove();
        }
        for (TemplateError e : result.getErrors()) {
            for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                if (t instanceof RenderTimeout) throw timedOut();
                if (t instanceof OutputTooBigException) {
                    throw new ChatTemplateException("the rendered prompt is longer than " + maxOutputChars + " characters");
                }
            }
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                    if (t instanceof ChatTemplateException raised) throw raised; // raise_exception's own message
                }
                throw new ChatTemplateException(e.getMessage());
            }
        }
        return result.getOutput();
    }

    private ChatTemplateException timedOut() {
        return new ChatTemplateException("the chat template took longer than " + renderTimeout.toMillis() + " ms of CPU time to render");
    }

    private static void checkDeadline() {
        Deadline deadline = DEADLINE.get();
        if (deadline != null && deadline.passed()) throw new RenderTimeout();
    }

    /** A point in the current thread's CPU time; in wall-clock time where the JVM measures none (a virtual thread). */
    private record Deadline(boolean cpu, long at) {
        static Deadline after(Duration limit) {
            long cpu = THREADS.getCurrentThreadCpuTime();
            return cpu < 0 ? new Deadline(false, System.nanoTime() + limit.toNanos()) : new Deadline(true, cpu + limit.toNanos());
        }

        boolean passed() {
            return (cpu ? THREADS.getCurrentThreadCpuTime() : System.nanoTime()) - at > 0;
        }
    }

    /** Thrown from inside the render to stop it; Jinjava records it as the cause of a template error. */
    private static final class RenderTimeout extends RuntimeException {
        RenderTimeout() {
            super("render time limit reached", null, false, false);
        }
    }

    public static String raiseException(String message) {
        throw new ChatTemplateException(message);
    }

    public static String strftimeNow(String format) {
        // Enough for the formats chat templates use ("%d %b %Y", "%Y-%m-%d").
        String pattern = format.replace("%d", "dd").replace("%b", "MMM").replace("%B", "MMMM").replace("%Y", "yyyy").replace("%m", "MM");
        return LocalDate.now().format(DateTimeFormatter.ofPattern(pattern, java.util.Locale.ROOT));
    }

    /** The chat template rejected the messages, or failed to render. */
    public static final class ChatTemplateException extends RuntimeException {
        public ChatTemplateException(String message) {
            super(message);
        }
    }
}
