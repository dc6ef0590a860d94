// Draws one cell type's circuit (the JSON in #circuit-data, written by CircuitChart) as an ECharts sankey: ECharts
// places the columns from each node's depth and the nodes within a column itself. Hover text is escaped HTML.
(function () {
  'use strict';
  var holder = document.getElementById('circuit');
  var data = JSON.parse(document.getElementById('circuit-data').textContent);
  var chart = echarts.init(holder, null, {renderer: 'canvas'});
  chart.setOption({
    animation: false,
    tooltip: {
      trigger: 'item',
      confine: true,
      formatter: function (p) { return p.data.tip; }
    },
    series: [{
      type: 'sankey',
      left: 10, right: 110, top: 10, bottom: 10,
      nodeWidth: 14,
      nodeGap: 8,
      layoutIterations: 64,
      draggable: true,
      emphasis: {focus: 'adjacency'},
      data: data.nodes,
      links: data.links,
      label: {position: 'right', fontSize: 12, formatter: function (p) { return p.data.display; }},
      lineStyle: {opacity: 0.45, curveness: 0.5}
    }]
  });
  chart.on('click', function (p) {
    if (p.dataType === 'node' && p.data.href) {
      window.location.href = p.data.href;
    }
  });
  window.addEventListener('resize', function () { chart.resize(); });
  holder.setAttribute('data-rendered', String(data.nodes.length));
})();
