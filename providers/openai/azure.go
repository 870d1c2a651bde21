package openai

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultAzureAPIVersion is the dated Azure OpenAI data-plane API version used when a
// channel sets none: the current generally available one, which has
// stream_options.include_usage and max_completion_tokens.
const DefaultAzureAPIVersion = "2024-10-21"

// configureAzure points c at an Azure OpenAI resource. With the default "deployments"
// style, each call goes to {resource}/openai/deployments/{deployment}/{path}
// ?api-version={version}, the deployment being the upstream model name; with style
// "v1", to {resource}/openai/v1/{path}, the deployment named by the body's model
// (which the gateway already set). The key goes in the api-key header, not
// Authorization. A base URL already ending in /openai or /openai/v1 is understood.
func configureAzure(c *Client, options map[string]string) error {
	style, version := options["api_style"], options["api_version"]
	base := c.baseURL
	switch {
	case strings.HasSuffix(base, "/openai/v1"):
		base = strings.TrimSuffix(base, "/openai/v1")
		if style == "" {
			style = "v1"
		}
	case strings.HasSuffix(base, "/openai"):
		base = strings.TrimSuffix(base, "/openai")
	}
	if c.apiKey != "" {
		c.headers["api-key"] = c.apiKey
	}
	c.auth = ""
	switch style {
	case "", "deployments":
		if version == "" {
			version = DefaultAzureAPIVersion
		}
		query := "?api-version=" + url.QueryEscape(version)
		c.route = func(path, deployment string) string {
			if path == "/models" {
				return base + "/openai/models" + query
			}
			return base + "/openai/deployments/" + url.PathEscape(deployment) + path + query
		}
	case "v1":
		query := ""
		if version != "" {
			query = "?api-version=" + url.QueryEscape(version) // e.g. "preview" for preview features
		}
		c.route = func(path, _ string) string { return base + "/openai/v1" + path + query }
	default:
		return fmt.Errorf(`provider azure: option api_style %q is not "deployments" or "v1"`, style)
	}
	return nil
}
