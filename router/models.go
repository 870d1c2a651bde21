package router

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// modelObject is OpenAI's model entry.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// modelCreated is a fixed timestamp: Tollgate does not know when a vendor made a
// model, and a stable value keeps the list cacheable.
const modelCreated = 1700000000

func (g *Gateway) modelObjectFor(cat *catalog, model string) modelObject {
	owner := "tollgate"
	if p, _, ok := cat.prices.Lookup(model); ok && p.Provider != "" {
		owner = p.Provider
	}
	return modelObject{ID: model, Object: "model", Created: modelCreated, OwnedBy: owner}
}

// listModels serves GET /v1/models: the models this key may call, each with a
// channel and a price.
func (g *Gateway) listModels(c *gin.Context) error {
	k := keyOf(c)
	cat := g.catalog.Load()
	data := []modelObject{}
	for _, m := range cat.models() {
		if k.AllowsModel(m) {
			data = append(data, g.modelObjectFor(cat, m))
		}
	}
	c.JSON(http.StatusOK, gin.H{"object": "list", "data": data})
	return nil
}

// getModel serves GET /v1/models/{model}.
func (g *Gateway) getModel(c *gin.Context) error {
	model := c.Param("model")
	k := keyOf(c)
	cat := g.catalog.Load()
	for _, m := range cat.models() {
		if m == model && k.AllowsModel(m) {
			c.JSON(http.StatusOK, g.modelObjectFor(cat, m))
			return nil
		}
	}
	return apiErr(ErrModelNotFound, "model", "The model '%s' does not exist or you do not have access to it.", model)
}
