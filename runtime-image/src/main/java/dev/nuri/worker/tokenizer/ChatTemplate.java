package dev.nuri.worker.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a model's chat template the way transformers does (Jinja2 with trim_blocks and lstrip_blocks, plus
 * {@code raise_exception} and {@code strftime_now}). Jinjava is close to Jinja2 but not equal (it mis-renders
 * namespace(), [::-1] and lstrip(chars)), so every template we ship is checked against Python Jinja2 in the tests.
 */
public final class ChatTemplate {
    private final Jinjava jinjava;
    private final String template;
    private final String bosToken;
    private final String eosToken;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.template = template;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withFailOnUnknownTokens(false).build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
    }

    /** Renders; a template error (including raise_exception) becomes a {@link ChatTemplateException}. */
    public String render(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", messages);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("bos_token", bosToken == null ? "" : bosToken);
        bindings.put("eos_token", eosToken == null ? "" : eosToken);
        RenderResult result = jinjava.renderForResult(template, bindings);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                    if (t instanceof ChatTemplateException raised) throw raised; // raise_exception's own message
                }
                throw new ChatTemplateException(e.getMessage());
            }
        }
        return result.getOutput();
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
